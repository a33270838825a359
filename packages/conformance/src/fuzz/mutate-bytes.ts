// Mutations of raw bytes, guided by where the structures are: bit flips,
// truncation, garbage written over or inserted, one structure copied over
// another, a structure zeroed, the file extended.
import { checksumNote, fixChecksum, hex } from "./field-bytes.js";
import type { Prng } from "../random.js";
import type { Structure, StructureMap } from "./structure-map.js";

/** A mutant and what was done to make it. */
export interface Mutation {
  bytes: Uint8Array;
  description: string;
}

const MiB = 1 << 20;

export function flipBits(bytes: Uint8Array, rng: Prng, start: number, end: number, count: number): string {
  if (end <= start) return "no bits to flip";
  const where: string[] = [];
  for (let i = 0; i < count; i++) {
    const at = start + rng.int(end - start);
    const bit = rng.int(8);
    bytes[at]! ^= 1 << bit;
    where.push(`${hex(at)}.${bit}`);
  }
  return `flip ${count} bit${count === 1 ? "" : "s"} at ${where.join(", ")}`;
}

export function flipStructureBits(bytes: Uint8Array, map: StructureMap, rng: Prng): string | null {
  const structure = pickStructure(map, rng, (s) => s.offset < bytes.length);
  if (structure === null) return null;
  // Most bits that matter are in the first bytes of a structure.
  const end = Math.min(
    bytes.length,
    structure.offset + (rng.chance(0.7) ? Math.min(structure.length, 512) : structure.length),
  );
  const flips = flipBits(bytes, rng, structure.offset, end, rng.range(1, 4));
  const fix = structure.checksum !== undefined && rng.chance(0.8);
  return `in ${structure.name}: ${flips}${fix ? checksumNote(structure, fixChecksum(bytes, structure)) : ""}`;
}

export function truncate(bytes: Uint8Array, map: StructureMap, rng: Prng): Mutation {
  const structure = rng.pick(map.structures);
  const length = rng.weighted<number>([
    [
      4,
      rng.pick([
        structure.offset,
        structure.offset + structure.length,
        structure.offset + structure.length - 1,
        structure.offset + (structure.length >> 1),
      ]),
    ],
    [3, rng.int(bytes.length)],
    [2, Math.max(0, (Math.ceil(bytes.length / MiB) - 1) * MiB)],
    [1, rng.pick([0, 1, 8, 0x10000, 0x20000 + 100, MiB])],
  ]);
  const cut = Math.min(length, bytes.length - 1);
  return {
    bytes: bytes.slice(0, Math.max(0, cut)),
    description: `truncate to ${hex(Math.max(0, cut))} of ${hex(bytes.length)} bytes`,
  };
}

export function overwriteGarbage(bytes: Uint8Array, map: StructureMap, rng: Prng): string {
  const length = rng.pick([1, 8, 64, 512, 4096, 65536]);
  const start = Math.min(
    bytes.length,
    rng.chance(0.6) ? rng.pick(map.structures).offset + rng.int(64) : rng.int(bytes.length),
  );
  const garbage = rng.bytes(Math.max(0, Math.min(length, bytes.length - start)));
  bytes.set(garbage, start);
  return `overwrite ${garbage.length} bytes at ${hex(start)} with random bytes`;
}

export function insertGarbage(bytes: Uint8Array, map: StructureMap, rng: Prng): Mutation {
  const length = rng.pick([1, 512, 4096, MiB]);
  const at = Math.min(bytes.length, rng.chance(0.5) ? rng.pick(map.structures).offset : rng.int(bytes.length));
  const out = new Uint8Array(bytes.length + length);
  out.set(bytes.subarray(0, at));
  out.set(rng.chance(0.5) ? rng.bytes(length) : new Uint8Array(length), at);
  out.set(bytes.subarray(at), at + length);
  return { bytes: out, description: `insert ${length} bytes at ${hex(at)}, shifting the rest` };
}

export function copyStructure(bytes: Uint8Array, map: StructureMap, rng: Prng): string | null {
  if (map.structures.length < 2) return null;
  const from = rng.pick(map.structures);
  const to = rng.pick(map.structures.filter((s) => s !== from));
  const length = Math.min(from.length, to.length, bytes.length - from.offset, bytes.length - to.offset);
  if (length <= 0) return null;
  bytes.copyWithin(to.offset, from.offset, from.offset + length);
  return `copy ${length} bytes of ${from.name} over ${to.name}`;
}

export function zeroStructure(bytes: Uint8Array, map: StructureMap, rng: Prng): string | null {
  const structure = pickStructure(map, rng, (s) => s.offset < bytes.length);
  if (structure === null) return null;
  bytes.fill(0, structure.offset, Math.min(bytes.length, structure.offset + structure.length));
  const fixed =
    rng.chance(0.5) && structure.checksum !== undefined ? checksumNote(structure, fixChecksum(bytes, structure)) : "";
  return `zero ${structure.name}${fixed}`;
}

export function extend(bytes: Uint8Array, rng: Prng): Mutation {
  const length = rng.pick([1, 4096, MiB, 3 * MiB]);
  const out = new Uint8Array(bytes.length + length);
  out.set(bytes);
  return { bytes: out, description: `append ${length} zero bytes` };
}

function pickStructure(map: StructureMap, rng: Prng, usable: (s: Structure) => boolean): Structure | null {
  const candidates = map.structures.filter(usable);
  return candidates.length === 0 ? null : rng.pick(candidates);
}
