// MS-VHDX 2.2.3 Region Table: two copies, at 192 KiB and 256 KiB, 64 KiB each.
//
// | offset        | size         | field   | rule                                             |
// |---------------|--------------|---------|--------------------------------------------------|
// | 0             | 16           | header  | region-table-header.ts (signature, checksum, count) |
// | 16            | 32 per entry | entries | region-table-entry.ts; unique GUIDs, no overlaps |
// | 16 + 32 * n   | to 65536     | tail    | reserved; kept when not zero                     |
//
// The checksum covers all 65536 bytes. Known regions: BAT and metadata, both required.
import { computeChecksum, verifyChecksum, writeChecksum } from "./checksum.js";
import {
  KNOWN_REGION_GUIDS,
  MAX_REGION_TABLE_ENTRIES,
  REGION_TABLE_SIGNATURE,
  REGION_TABLE_SIZE,
  BAT_REGION_GUID,
  METADATA_REGION_GUID,
} from "./constants.js";
import { VhdxError } from "./errors.js";
import { Reader, Writer, at, isAllZero, requireBytes } from "./internal/bytes.js";
import { checkChecksum, violation, within } from "./internal/rules.js";
import {
  REGION_TABLE_ENTRY_SIZE,
  decodeRegionTableEntry,
  validateRegionTableEntry,
  writeRegionTableEntry,
  type RegionTableEntry,
  type RegionTableEntryInit,
} from "./region-table-entry.js";
import {
  REGION_TABLE_HEADER_SIZE,
  decodeRegionTableHeader,
  validateRegionTableHeader,
  type RegionTableHeader,
} from "./region-table-header.js";
import type { Violation } from "./violation.js";

const STRUCTURE = "region table";
const CHECKSUM_OFFSET = 4;

export interface RegionTable extends RegionTableHeader {
  entries: RegionTableEntry[];
  /** The reserved bytes after the last entry, kept only when not all zero. */
  tail?: Uint8Array;
}

export interface RegionTableInit {
  signature?: string;
  /** When given, must equal entries.length. */
  entryCount?: number;
  reserved?: number;
  entries: RegionTableEntryInit[];
  /** Written right after the last entry, cut to fit. */
  tail?: Uint8Array;
}

export interface RegionTableContext {
  /** GUIDs of regions the caller understands besides BAT and metadata. */
  knownRegions?: readonly string[];
  /** The log from the current header, to check that no region overlaps it. */
  log?: { offset: number; length: number };
}

/** Decodes the whole 64 KiB table. An entry count that cannot fit is BAD_FIELD. */
export function decodeRegionTable(bytes: Uint8Array, offset = 0, fileOffset?: number): RegionTable {
  const r = new Reader(STRUCTURE, bytes, offset, REGION_TABLE_SIZE, fileOffset);
  const header = decodeRegionTableHeader(r.bytes, 0, fileOffset);
  if (header.entryCount > MAX_REGION_TABLE_ENTRIES) {
    const detail = `entry count is ${header.entryCount}, at most ${MAX_REGION_TABLE_ENTRIES} fit in the table`;
    throw new VhdxError("BAD_FIELD", detail, { structure: STRUCTURE, field: "entryCount", offset: fileOffset });
  }
  const entries: RegionTableEntry[] = [];
  for (let i = 0; i < header.entryCount; i++) {
    const position = REGION_TABLE_HEADER_SIZE + i * REGION_TABLE_ENTRY_SIZE;
    entries.push(decodeRegionTableEntry(r.bytes, position, at(fileOffset, position)));
  }
  const table: RegionTable = { ...header, entries };
  const tailStart = REGION_TABLE_HEADER_SIZE + header.entryCount * REGION_TABLE_ENTRY_SIZE;
  const tail = r.copy(tailStart, REGION_TABLE_SIZE - tailStart);
  if (!isAllZero(tail)) table.tail = tail;
  return table;
}

/** The 65536 bytes, with the checksum computed. */
export function encodeRegionTable(value: RegionTableInit): Uint8Array {
  const bytes = layOut(value);
  writeChecksum(bytes, CHECKSUM_OFFSET);
  return bytes;
}

export function computeRegionTableChecksum(bytes: Uint8Array, offset = 0, fileOffset?: number): number {
  requireBytes(STRUCTURE, bytes, offset, REGION_TABLE_SIZE, fileOffset);
  return computeChecksum(bytes.subarray(offset, offset + REGION_TABLE_SIZE), CHECKSUM_OFFSET);
}

export function verifyRegionTableChecksum(bytes: Uint8Array, offset = 0, fileOffset?: number): boolean {
  requireBytes(STRUCTURE, bytes, offset, REGION_TABLE_SIZE, fileOffset);
  return verifyChecksum(bytes.subarray(offset, offset + REGION_TABLE_SIZE), CHECKSUM_OFFSET);
}

/**
 * Rules: those of the header and of each entry, CHECKSUM, DUPLICATE_GUID,
 * UNKNOWN_REQUIRED_REGION, MISSING_REGION (BAT or metadata), REGION_OVERLAP
 * (between entries, and with `context.log` when given).
 */
export function validateRegionTable(table: RegionTable, context: RegionTableContext = {}): Violation[] {
  const out = validateRegionTableHeader(table);
  checkChecksum(out, table.checksum, () => computeChecksum(layOut(table), CHECKSUM_OFFSET));
  table.entries.forEach((entry, i) => out.push(...within(`entries[${i}]`, validateRegionTableEntry(entry))));
  checkGuids(out, table.entries, context);
  checkOverlaps(out, table.entries, context);
  return out;
}

function checkGuids(out: Violation[], entries: RegionTableEntry[], context: RegionTableContext): void {
  const known = new Set([...KNOWN_REGION_GUIDS, ...(context.knownRegions ?? [])].map((g) => g.toLowerCase()));
  const seen = new Set<string>();
  entries.forEach((entry, i) => {
    const guid = entry.guid.toLowerCase();
    if (seen.has(guid)) {
      out.push(violation("DUPLICATE_GUID", "BAD_FIELD", `entries[${i}].guid`, `region ${guid} appears more than once`));
    }
    seen.add(guid);
    if (entry.required && !known.has(guid)) {
      const message = `region ${guid} is marked required but is not understood`;
      out.push(violation("UNKNOWN_REQUIRED_REGION", "UNKNOWN_REQUIRED_REGION", `entries[${i}].guid`, message));
    }
  });
  for (const [guid, name] of [
    [BAT_REGION_GUID, "BAT"],
    [METADATA_REGION_GUID, "metadata"],
  ] as const) {
    if (!seen.has(guid))
      out.push(violation("MISSING_REGION", "MISSING_REGION", "entries", `no ${name} region (${guid})`));
  }
}

interface Span {
  name: string;
  start: number;
  end: number;
}

function checkOverlaps(out: Violation[], entries: RegionTableEntry[], context: RegionTableContext): void {
  const spans: Span[] = entries.map((e, i) => ({
    name: `entries[${i}]`,
    start: e.fileOffset,
    end: e.fileOffset + e.length,
  }));
  if (context.log !== undefined) {
    spans.push({ name: "log", start: context.log.offset, end: context.log.offset + context.log.length });
  }
  const sorted = spans.filter((s) => s.end > s.start).sort((a, b) => a.start - b.start);
  let reach: Span | undefined;
  for (const span of sorted) {
    if (reach !== undefined && span.start < reach.end) {
      const message = `${span.name} [${span.start}, ${span.end}) overlaps ${reach.name} [${reach.start}, ${reach.end})`;
      out.push(violation("REGION_OVERLAP", "REGION_OVERLAP", span.name, message));
    }
    if (reach === undefined || span.end > reach.end) reach = span;
  }
}

function layOut(value: RegionTableInit): Uint8Array {
  const count = value.entries.length;
  const w = new Writer(STRUCTURE, REGION_TABLE_SIZE);
  if (count > MAX_REGION_TABLE_ENTRIES) {
    const detail = `${count} entries, at most ${MAX_REGION_TABLE_ENTRIES} fit in the table`;
    throw new VhdxError("OUT_OF_RANGE", detail, { structure: STRUCTURE, field: "entries" });
  }
  if (value.entryCount !== undefined && value.entryCount !== count) {
    const detail = `entryCount is ${value.entryCount} but ${count} entries are given`;
    throw new VhdxError("BAD_FIELD", detail, { structure: STRUCTURE, field: "entryCount" });
  }
  w.ascii(0, value.signature ?? REGION_TABLE_SIGNATURE, 4, "signature");
  w.u32(8, count, "entryCount");
  w.u32(12, value.reserved ?? 0, "reserved");
  value.entries.forEach((entry, i) => {
    writeRegionTableEntry(w, REGION_TABLE_HEADER_SIZE + i * REGION_TABLE_ENTRY_SIZE, entry, `entries[${i}].`);
  });
  if (value.tail !== undefined) {
    w.upTo(REGION_TABLE_HEADER_SIZE + count * REGION_TABLE_ENTRY_SIZE, REGION_TABLE_SIZE, value.tail, "tail");
  }
  return w.bytes;
}
