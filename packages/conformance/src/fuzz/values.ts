// Interesting values for a field: the edges of its width, powers of two,
// sizes and offsets near the file's end, offsets of other structures, and
// counts past the spec's limits. Each comes with a label for the description.
import { encodeVirtualDiskId } from "@vhdx/structs";
import type { Prng } from "../random.js";
import type { FieldKind, StructureMap } from "./structure-map.js";

export interface Interesting {
  value: bigint;
  label: string;
}

const MiB = 1n << 20n;
const WIDTH: Record<Exclude<FieldKind, "guid">, bigint> = { u8: 8n, u16: 16n, u32: 32n, u64: 64n };
const HUGE_COUNTS = [
  126n,
  127n,
  128n,
  1024n,
  1025n,
  2047n,
  2048n,
  0x7fffn,
  0x8000n,
  0xffffn,
  0x10000n,
  0x7fffffffn,
  0x80000000n,
];
const BIG_SIZES = [
  MiB,
  256n * MiB,
  512n * MiB,
  1n << 32n,
  1n << 40n,
  64n << 40n,
  (64n << 40n) + 512n,
  1n << 47n,
  1n << 50n,
  1n << 52n,
  (1n << 53n) - MiB,
  1n << 53n,
  (1n << 53n) + 1n,
  1n << 63n,
];

/** A value for an unsigned field of `kind` whose current value is `current`. */
export function interestingNumber(
  rng: Prng,
  kind: Exclude<FieldKind, "guid">,
  current: bigint,
  map: StructureMap,
): Interesting {
  const bits = WIDTH[kind];
  const max = (1n << bits) - 1n;
  const candidate = rng.weighted<() => Interesting>([
    [3, () => ({ value: 0n, label: "0" })],
    [2, () => ({ value: 1n, label: "1" })],
    [3, () => ({ value: max, label: "all ones" })],
    [2, () => ({ value: max - 1n, label: "max-1" })],
    [4, () => powerOfTwo(rng, bits)],
    [4, () => nearCurrent(rng, current)],
    [4, () => nearFileSize(rng, map)],
    [5, () => otherStructure(rng, map)],
    [3, () => ({ value: rng.pick(HUGE_COUNTS), label: "huge count" })],
    [2, () => ({ value: rng.pick(BIG_SIZES), label: "big size" })],
  ])();
  return aligned(rng, { value: candidate.value & max, label: candidate.label });
}

/** Sometimes rounded down to 1 MiB or 4 KiB, since most offsets and lengths must be multiples of those to get further. */
function aligned(rng: Prng, { value, label }: Interesting): Interesting {
  const unit = rng.weighted<bigint>([
    [6, 1n],
    [2, MiB],
    [1, 4096n],
  ]);
  if (unit === 1n || value % unit === 0n) return { value, label };
  return { value: value - (value % unit), label: `${label}, rounded down to ${unit === MiB ? "1 MiB" : "4 KiB"}` };
}

function powerOfTwo(rng: Prng, bits: bigint): Interesting {
  const k = BigInt(rng.int(Number(bits)));
  return { value: 1n << k, label: `2^${k}` };
}

function nearCurrent(rng: Prng, current: bigint): Interesting {
  return rng.pick<Interesting>([
    { value: current + 1n, label: "current+1" },
    { value: current - 1n, label: "current-1" },
    { value: current * 2n, label: "current*2" },
    { value: current / 2n, label: "current/2" },
    { value: current + MiB, label: "current+1MiB" },
    { value: current ^ (1n << BigInt(rng.int(32))), label: "current with one bit flipped" },
  ]);
}

function nearFileSize(rng: Prng, map: StructureMap): Interesting {
  const size = BigInt(map.fileSize);
  const roundedUp = ((size + MiB - 1n) / MiB) * MiB;
  return rng.pick<Interesting>([
    { value: size, label: "file size" },
    { value: size - 1n, label: "file size-1" },
    { value: size + 1n, label: "file size+1" },
    { value: roundedUp, label: "file size rounded up to 1 MiB" },
    { value: roundedUp + MiB, label: "1 MiB past the file" },
    { value: size > MiB ? size - MiB : 0n, label: "file size-1MiB" },
  ]);
}

/** The offset (or MiB number) of another structure, so one structure points into another. */
function otherStructure(rng: Prng, map: StructureMap): Interesting {
  const offsets = structureOffsets(map);
  const target = rng.pick(offsets);
  return rng.chance(0.25)
    ? { value: BigInt(target.offset) / MiB, label: `MiB number of ${target.name}` }
    : { value: BigInt(target.offset), label: `offset of ${target.name}` };
}

export function structureOffsets(map: StructureMap): Array<{ name: string; offset: number }> {
  const out = [
    { name: "header section", offset: 0 },
    ...map.structures.map((s) => ({ name: s.name, offset: s.offset })),
  ];
  if (map.log) out.push({ name: "log", offset: map.log.offset });
  for (const offset of map.blockOffsets.slice(0, 8)) out.push({ name: "a payload block", offset });
  return out;
}

const SPEC_GUIDS = [
  "2dc27766-f623-4200-9d64-115e9bfd4a08",
  "8b7ca206-4790-4b9a-b8fe-575f050f886e",
  "caa16737-fa36-4d43-b3b6-33f0aa44e76b",
  "a8d35f2d-b30b-454d-abf7-d3d84834ab0c",
  "b04aefb7-d19e-4a81-b789-25b8e9445913",
];

/** 16 bytes for a GUID field: zeros, random, one found elsewhere in the file, or one the spec names. */
export function interestingGuid(rng: Prng, bytes: Uint8Array, map: StructureMap): { value: Uint8Array; label: string } {
  const guidFields = map.structures
    .flatMap((s) => s.fields)
    .filter((f) => f.kind === "guid" && f.offset + 16 <= bytes.length);
  return rng.weighted<() => { value: Uint8Array; label: string }>([
    [2, () => ({ value: new Uint8Array(16), label: "nil GUID" })],
    [2, () => ({ value: rng.bytes(16), label: "random GUID" })],
    [2, () => ({ value: new Uint8Array(16).fill(0xff), label: "all-ones GUID" })],
    [
      guidFields.length > 0 ? 4 : 0,
      () => {
        const field = rng.pick(guidFields);
        return {
          value: bytes.slice(field.offset, field.offset + 16),
          label: `the GUID at 0x${field.offset.toString(16)} (${field.name})`,
        };
      },
    ],
    [
      map.logGuids.length > 0 ? 3 : 0,
      () => ({ value: encodeVirtualDiskId(rng.pick(map.logGuids)), label: "a log entry's LogGuid" }),
    ],
    [3, () => ({ value: encodeVirtualDiskId(rng.pick(SPEC_GUIDS)), label: "a GUID the spec names" })],
  ])();
}
