// Structure-aware mutations of a seed image, deterministic from a seeded
// PRNG. Field rewrites recompute the checksum that covers the field, so the
// mutant gets past checksums to the deeper rules; the rest flip bits,
// truncate, splice garbage, copy one structure over another and rewrite the
// parent locator. Each mutation says what it did in a short description.
// Over 300 lines: one table of mutation kinds and their small appliers; the
// byte-level ones already live in mutate-bytes.ts.
import { encodeVirtualDiskId } from "@vhdx/structs";
import { checksumNote, fieldFits, fixChecksum, FIELD_SIZE, hex, readField, writeField } from "./field-bytes.js";
import {
  copyStructure,
  extend,
  flipBits,
  flipStructureBits,
  insertGarbage,
  overwriteGarbage,
  truncate,
  zeroStructure,
} from "./mutate-bytes.js";
import type { Mutation } from "./mutate-bytes.js";
import { hugeGeometry } from "./mutate-geometry.js";
import { mutateLocator } from "./mutate-locator.js";
import type { Prng } from "../random.js";
import type { Field, Structure, StructureKind, StructureMap } from "./structure-map.js";
import { interestingGuid, interestingNumber, structureOffsets } from "./values.js";

export type { Mutation };

export type MutationKind =
  | "field"
  | "bat entry"
  | "header"
  | "locator"
  | "bit flips"
  | "structure bit flips"
  | "truncate"
  | "garbage"
  | "insert garbage"
  | "copy structure"
  | "zero structure"
  | "extend"
  | "huge disk"
  | "log sizes";

const WEIGHTS: ReadonlyArray<readonly [number, MutationKind]> = [
  [30, "field"],
  [10, "bat entry"],
  [6, "header"],
  [8, "locator"],
  [6, "bit flips"],
  [8, "structure bit flips"],
  [8, "truncate"],
  [5, "garbage"],
  [2, "insert garbage"],
  [5, "copy structure"],
  [2, "zero structure"],
  [1, "extend"],
  [3, "huge disk"],
  [2, "log sizes"],
];

const MiB = 1 << 20;

/**
 * One to three mutations of `seed` (never modified). `selfName` is the file
 * name the mutant will have, for parent locators that point at themselves.
 */
export function mutate(seed: Uint8Array, map: StructureMap, rng: Prng, selfName = "mutant.vhdx"): Mutation {
  let bytes: Uint8Array = seed.slice();
  const steps: string[] = [];
  const count = rng.chance(0.25) ? (rng.chance(0.25) ? 3 : 2) : 1;
  for (let i = 0; i < count; i++) {
    const result = applyOne(bytes, map, rng, rng.weighted(WEIGHTS), selfName);
    bytes = result.bytes;
    steps.push(result.description);
  }
  return { bytes, description: steps.join("; ") };
}

/** Applies one mutation of `kind` (falling back to a field rewrite when the seed has nothing for it). */
export function applyOne(
  bytes: Uint8Array,
  map: StructureMap,
  rng: Prng,
  kind: MutationKind,
  selfName = "mutant.vhdx",
): Mutation {
  const same = (description: string | null): Mutation | null => (description === null ? null : { bytes, description });
  const result = ((): Mutation | null => {
    switch (kind) {
      case "field":
        return same(rewriteField(bytes, map, rng));
      case "bat entry":
        return same(rewriteBatEntry(bytes, map, rng));
      case "header":
        return same(headerTrick(bytes, map, rng));
      case "locator":
        return same(mutateLocator(bytes, map, rng, selfName));
      case "bit flips":
        return same(flipBits(bytes, rng, 0, bytes.length, rng.range(1, 16)));
      case "structure bit flips":
        return same(flipStructureBits(bytes, map, rng));
      case "truncate":
        return truncate(bytes, map, rng);
      case "garbage":
        return same(overwriteGarbage(bytes, map, rng));
      case "insert garbage":
        return insertGarbage(bytes, map, rng);
      case "copy structure":
        return same(copyStructure(bytes, map, rng));
      case "zero structure":
        return same(zeroStructure(bytes, map, rng));
      case "extend":
        return extend(bytes, rng);
      case "huge disk":
        return hugeGeometry(bytes, map, rng);
      case "log sizes":
        return same(rewriteLogSizes(bytes, map, rng));
    }
  })();
  return result ?? { bytes, description: rewriteField(bytes, map, rng) ?? flipBits(bytes, rng, 0, bytes.length, 4) };
}

// ---------------------------------------------------------------- fields

/** How often each kind of structure is picked for a field rewrite (a kind with many structures is not favoured). */
const FIELD_WEIGHTS: ReadonlyArray<readonly [number, StructureKind]> = [
  [4, "header"],
  [3, "region table"],
  [3, "metadata table"],
  [4, "metadata item"],
  [3, "parent locator"],
  [2, "BAT"],
  [3, "log entry"],
  [0.3, "file identifier"],
];

function rewriteField(bytes: Uint8Array, map: StructureMap, rng: Prng): string | null {
  const usable = map.structures.filter((s) => s.fields.some((f) => fieldFits(bytes, f)));
  const kinds = FIELD_WEIGHTS.filter(([, kind]) => usable.some((s) => s.kind === kind));
  if (kinds.length === 0) return null;
  const kind = rng.weighted(kinds);
  const structure = kind === "header" ? pickHeader(usable, map, rng) : rng.pick(usable.filter((s) => s.kind === kind));
  const field = rng.pick(structure.fields.filter((f) => fieldFits(bytes, f)));
  const label = setField(bytes, map, rng, field);
  const fixed = fixChecksum(bytes, structure);
  const mirror = mirrorRegionTable(bytes, map, structure, field, rng);
  const activated = structure.kind === "log entry" && rng.chance(0.6) ? activateLog(bytes, map, structure) : "";
  return `${structure.name}.${field.name} = ${label}${checksumNote(structure, fixed)}${mirror}${activated}`;
}

/** The current header three times in four: a change to the other one matters only when the current is damaged. */
function pickHeader(usable: readonly Structure[], map: StructureMap, rng: Prng): Structure {
  const headers = usable.filter((s) => s.kind === "header");
  const current = headers.find((s) => s.name === `header ${map.currentHeader}`);
  return current !== undefined && rng.chance(0.75) ? current : rng.pick(headers);
}

/** Points the current header's LogGuid at the log entry's, so the (mutated) log is replayed. */
function activateLog(bytes: Uint8Array, map: StructureMap, entry: Structure): string {
  const header = map.structures.find((s) => s.name === `header ${map.currentHeader}`);
  const target = header?.fields.find((f) => f.name === "logGuid");
  const source = entry.fields.find((f) => f.name === "logGuid");
  if (header === undefined || target === undefined || source === undefined || !fieldFits(bytes, source)) return "";
  bytes.copyWithin(target.offset, source.offset, source.offset + 16);
  fixChecksum(bytes, header);
  return `, and the current header's LogGuid set to the entry's`;
}

/**
 * The file sizes a replay trusts, FlushedFileOffset or LastFileOffset, set in
 * every log entry (so the head has it) to a 1 MiB multiple from the file's
 * size to past 2^53, with the log made active.
 */
function rewriteLogSizes(bytes: Uint8Array, map: StructureMap, rng: Prng): string | null {
  const entries = map.structures.filter((s) => s.kind === "log entry" && s.offset + s.length <= bytes.length);
  if (entries.length === 0) return null;
  const name = rng.pick(["flushedFileOffset", "lastFileOffset"]);
  const sizeMiB = BigInt(Math.ceil(bytes.length / MiB));
  const value =
    rng.pick([
      sizeMiB - 1n,
      sizeMiB,
      sizeMiB + 1n,
      sizeMiB + 1024n,
      1n << 20n,
      1n << 26n,
      1n << 27n,
      (1n << 27n) + 1n,
      1n << 30n,
      (1n << 33n) - 1n,
      1n << 33n,
      1n << 43n,
    ]) * BigInt(MiB);
  for (const entry of entries) {
    writeField(bytes, entry.fields.find((f) => f.name === name)!, value);
    fixChecksum(bytes, entry);
  }
  return `every log entry's ${name} = ${hex(value)} (checksums fixed)${activateLog(bytes, map, entries[0]!)}`;
}

/** Writes an interesting value into `field`; returns its label. */
function setField(bytes: Uint8Array, map: StructureMap, rng: Prng, field: Field): string {
  if (field.kind === "guid") {
    const guid = interestingGuid(rng, bytes, map);
    bytes.set(guid.value, field.offset);
    return guid.label;
  }
  const { value, label } = interestingNumber(rng, field.kind, readField(bytes, field), map);
  writeField(bytes, field, value);
  return `${hex(value)} (${label})`;
}

/** Half the time a region table change goes into both copies, so the reader cannot fall back to the intact one. */
function mirrorRegionTable(
  bytes: Uint8Array,
  map: StructureMap,
  structure: Structure,
  field: Field,
  rng: Prng,
): string {
  if (structure.kind !== "region table" || !rng.chance(0.5)) return "";
  const other = map.structures.find((s) => s.kind === "region table" && s !== structure);
  if (other === undefined || other.offset + other.length > bytes.length) return "";
  const at = field.offset - structure.offset + other.offset;
  bytes.copyWithin(at, field.offset, field.offset + FIELD_SIZE[field.kind]);
  fixChecksum(bytes, other);
  return ", in both copies";
}

// ---------------------------------------------------------------- BAT

const STATE_NAMES = [
  "NOT_PRESENT",
  "UNDEFINED",
  "ZERO",
  "UNMAPPED",
  "4 (reserved)",
  "5 (v0.95 UNMAPPED)",
  "FULLY_PRESENT",
  "PARTIALLY_PRESENT",
];

function rewriteBatEntry(bytes: Uint8Array, map: StructureMap, rng: Prng): string | null {
  const bat = map.structures.find((s) => s.kind === "BAT");
  if (bat === undefined) return null;
  const field = rng.pick(bat.fields);
  if (!fieldFits(bytes, field)) return null;
  const current = readField(bytes, field);
  let state = Number(current & 7n);
  let offsetMB = current >> 20n;
  let reserved = (current >> 3n) & 0x1ffffn;
  const change = rng.weighted<string>([
    [4, "state"],
    [5, "offset"],
    [3, "both"],
    [1, "reserved"],
  ]);
  if (change === "state" || change === "both") state = rng.int(8);
  if (change === "offset" || change === "both") offsetMB = interestingOffsetMB(rng, map);
  if (change === "reserved") reserved = BigInt(rng.range(1, 0x1ffff));
  writeField(bytes, field, (offsetMB << 20n) | (reserved << 3n) | BigInt(state));
  return `BAT.${field.name} = ${STATE_NAMES[state]} at ${offsetMB} MiB${reserved !== 0n ? `, reserved bits ${hex(reserved)}` : ""}`;
}

function interestingOffsetMB(rng: Prng, map: StructureMap): bigint {
  const sizeMB = BigInt(Math.ceil(map.fileSize / MiB));
  return rng.pick([
    0n,
    1n,
    sizeMB - 1n,
    sizeMB,
    sizeMB + 1n,
    (1n << 33n) - 1n,
    1n << 33n,
    (1n << 44n) - 1n,
    BigInt(Math.floor(rng.pick(structureOffsets(map)).offset / MiB)),
    BigInt(Math.floor((map.blockOffsets.length > 0 ? rng.pick(map.blockOffsets) : MiB) / MiB)),
  ]);
}

// ---------------------------------------------------------------- headers

function headerTrick(bytes: Uint8Array, map: StructureMap, rng: Prng): string | null {
  const headers = map.structures.filter((s) => s.kind === "header" && s.offset + s.length <= bytes.length);
  if (headers.length < 2) return null;
  const [one, two] = headers as [Structure, Structure];
  const current = map.currentHeader === 2 ? two : one;
  const sequence = (h: Structure) => h.fields.find((f) => f.name === "sequenceNumber")!;
  const trick = rng.weighted<string>([
    [3, "swap"],
    [2, "equal"],
    [2, "copy"],
    [map.logGuids.length > 0 ? 4 : 0, "log"],
  ]);
  if (trick === "swap") {
    const a = readField(bytes, sequence(one));
    writeField(bytes, sequence(one), readField(bytes, sequence(two)));
    writeField(bytes, sequence(two), a);
  } else if (trick === "equal") {
    writeField(bytes, sequence(one), readField(bytes, sequence(two)));
  } else if (trick === "copy") {
    const other = current === one ? two : one;
    bytes.copyWithin(other.offset, current.offset, current.offset + current.length);
  } else {
    const logGuid = current.fields.find((f) => f.name === "logGuid")!;
    const guid = rng.chance(0.8) ? encodeVirtualDiskId(rng.pick(map.logGuids)) : rng.bytes(16);
    bytes.set(guid, logGuid.offset);
  }
  fixChecksum(bytes, one);
  fixChecksum(bytes, two);
  const what: Record<string, string> = {
    swap: "swap the headers' sequence numbers",
    equal: "give both headers the same sequence number",
    copy: "copy the current header over the other slot",
    log: "point the current header's LogGuid at a log entry's (or a random) GUID",
  };
  return `${what[trick]} (checksums fixed)`;
}
