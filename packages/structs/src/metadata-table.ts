// MS-VHDX 2.6.1 Metadata Table: the first 64 KiB of the metadata region. The
// items it points to follow it in the region, unordered and unaligned.
//
// | offset      | size         | field   | rule                                                  |
// |-------------|--------------|---------|-------------------------------------------------------|
// | 0           | 32           | header  | metadata-table-header.ts (signature, count)           |
// | 32          | 32 per entry | entries | metadata-table-entry.ts; unique (itemId, isUser), at most 1024 user items, no overlaps |
// | 32 + 32 * n | to 65536     | tail    | free space, may hold anything; kept when not zero     |
import {
  FILE_PARAMETERS_GUID,
  KNOWN_METADATA_ITEM_GUIDS,
  LOGICAL_SECTOR_SIZE_GUID,
  MAX_METADATA_TABLE_ENTRIES,
  MAX_USER_METADATA_ITEMS,
  METADATA_TABLE_SIZE,
  PHYSICAL_SECTOR_SIZE_GUID,
  VIRTUAL_DISK_ID_GUID,
  VIRTUAL_DISK_SIZE_GUID,
} from "./constants.js";
import { VhdxError } from "./errors.js";
import { Reader, Writer, at, isAllZero } from "./internal/bytes.js";
import { violation, within } from "./internal/rules.js";
import {
  METADATA_TABLE_ENTRY_SIZE,
  decodeMetadataTableEntry,
  validateMetadataTableEntry,
  writeMetadataTableEntry,
  type MetadataTableEntry,
  type MetadataTableEntryInit,
} from "./metadata-table-entry.js";
import {
  METADATA_TABLE_HEADER_SIZE,
  decodeMetadataTableHeader,
  validateMetadataTableHeader,
  writeMetadataTableHeader,
  type MetadataTableHeader,
} from "./metadata-table-header.js";
import type { Violation } from "./violation.js";

const STRUCTURE = "metadata table";

/** Items every VHDX must have (the parent locator only when HasParent is set). */
const ALWAYS_REQUIRED_ITEMS: ReadonlyArray<readonly [string, string]> = [
  [FILE_PARAMETERS_GUID, "file parameters"],
  [VIRTUAL_DISK_SIZE_GUID, "virtual disk size"],
  [VIRTUAL_DISK_ID_GUID, "virtual disk id"],
  [LOGICAL_SECTOR_SIZE_GUID, "logical sector size"],
  [PHYSICAL_SECTOR_SIZE_GUID, "physical sector size"],
];

export interface MetadataTable extends MetadataTableHeader {
  entries: MetadataTableEntry[];
  /** The bytes after the last entry, kept only when not all zero. */
  tail?: Uint8Array;
}

export interface MetadataTableInit {
  signature?: string;
  reserved?: number;
  /** When given, must equal entries.length. */
  entryCount?: number;
  reserved2?: Uint8Array;
  entries: MetadataTableEntryInit[];
  /** Written right after the last entry, cut to fit. */
  tail?: Uint8Array;
}

export interface MetadataTableContext {
  /** Length of the metadata region, from the region table. */
  regionLength?: number;
  /** GUIDs of system items the caller understands besides the six known ones. */
  knownItems?: readonly string[];
}

/** Decodes the 64 KiB table. An entry count that cannot fit is BAD_FIELD. */
export function decodeMetadataTable(bytes: Uint8Array, offset = 0, fileOffset?: number): MetadataTable {
  const r = new Reader(STRUCTURE, bytes, offset, METADATA_TABLE_SIZE, fileOffset);
  const header = decodeMetadataTableHeader(r.bytes, 0, fileOffset);
  if (header.entryCount > MAX_METADATA_TABLE_ENTRIES) {
    const detail = `entry count is ${header.entryCount}, at most ${MAX_METADATA_TABLE_ENTRIES} fit in the table`;
    throw new VhdxError("BAD_FIELD", detail, { structure: STRUCTURE, field: "entryCount", offset: fileOffset });
  }
  const entries: MetadataTableEntry[] = [];
  for (let i = 0; i < header.entryCount; i++) {
    const position = METADATA_TABLE_HEADER_SIZE + i * METADATA_TABLE_ENTRY_SIZE;
    entries.push(decodeMetadataTableEntry(r.bytes, position, at(fileOffset, position)));
  }
  const table: MetadataTable = { ...header, entries };
  const tailStart = METADATA_TABLE_HEADER_SIZE + header.entryCount * METADATA_TABLE_ENTRY_SIZE;
  const tail = r.copy(tailStart, METADATA_TABLE_SIZE - tailStart);
  if (!isAllZero(tail)) table.tail = tail;
  return table;
}

/** The 65536 bytes of the table. */
export function encodeMetadataTable(value: MetadataTableInit): Uint8Array {
  const count = value.entries.length;
  if (count > MAX_METADATA_TABLE_ENTRIES) {
    const detail = `${count} entries, at most ${MAX_METADATA_TABLE_ENTRIES} fit in the table`;
    throw new VhdxError("OUT_OF_RANGE", detail, { structure: STRUCTURE, field: "entries" });
  }
  if (value.entryCount !== undefined && value.entryCount !== count) {
    const detail = `entryCount is ${value.entryCount} but ${count} entries are given`;
    throw new VhdxError("BAD_FIELD", detail, { structure: STRUCTURE, field: "entryCount" });
  }
  const w = new Writer(STRUCTURE, METADATA_TABLE_SIZE);
  writeMetadataTableHeader(w, { ...value, entryCount: count });
  value.entries.forEach((entry, i) => {
    const position = METADATA_TABLE_HEADER_SIZE + i * METADATA_TABLE_ENTRY_SIZE;
    writeMetadataTableEntry(w, position, entry, `entries[${i}].`);
  });
  if (value.tail !== undefined) {
    w.upTo(METADATA_TABLE_HEADER_SIZE + count * METADATA_TABLE_ENTRY_SIZE, METADATA_TABLE_SIZE, value.tail, "tail");
  }
  return w.bytes;
}

/** The entry of a system item (or a user item with `isUser`), if the table has one. */
export function findMetadataEntry(
  table: MetadataTable,
  itemId: string,
  isUser = false,
): MetadataTableEntry | undefined {
  const wanted = itemId.toLowerCase();
  return table.entries.find((e) => e.isUser === isUser && e.itemId.toLowerCase() === wanted);
}

/**
 * Rules: those of the header and of each entry, DUPLICATE_ITEM, USER_ITEM_COUNT,
 * ITEM_OVERLAP, UNKNOWN_REQUIRED_ITEM, MISSING_ITEM (the five items every file has).
 */
export function validateMetadataTable(table: MetadataTable, context: MetadataTableContext = {}): Violation[] {
  const out = validateMetadataTableHeader(table);
  const entryContext = context.regionLength === undefined ? {} : { regionLength: context.regionLength };
  table.entries.forEach((entry, i) => {
    out.push(...within(`entries[${i}]`, validateMetadataTableEntry(entry, entryContext)));
  });
  checkIdentities(out, table.entries, context);
  checkOverlaps(out, table.entries);
  return out;
}

function checkIdentities(out: Violation[], entries: MetadataTableEntry[], context: MetadataTableContext): void {
  const known = new Set([...KNOWN_METADATA_ITEM_GUIDS, ...(context.knownItems ?? [])].map((g) => g.toLowerCase()));
  const seen = new Set<string>();
  let userItems = 0;
  entries.forEach((entry, i) => {
    const id = entry.itemId.toLowerCase();
    const key = `${id}/${entry.isUser ? "user" : "system"}`;
    if (seen.has(key)) {
      const message = `${entry.isUser ? "user" : "system"} item ${id} appears more than once`;
      out.push(violation("DUPLICATE_ITEM", "BAD_FIELD", `entries[${i}].itemId`, message));
    }
    seen.add(key);
    if (entry.isUser) userItems++;
    if (entry.isRequired && (entry.isUser || !known.has(id))) {
      const message = `item ${id} is marked required but is not understood`;
      out.push(violation("UNKNOWN_REQUIRED_ITEM", "UNKNOWN_REQUIRED_METADATA", `entries[${i}].itemId`, message));
    }
  });
  if (userItems > MAX_USER_METADATA_ITEMS) {
    const message = `${userItems} user items, at most ${MAX_USER_METADATA_ITEMS} allowed`;
    out.push(violation("USER_ITEM_COUNT", "BAD_FIELD", "entries", message));
  }
  for (const [guid, name] of ALWAYS_REQUIRED_ITEMS) {
    if (!seen.has(`${guid}/system`)) {
      out.push(violation("MISSING_ITEM", "MISSING_METADATA", "entries", `no ${name} item (${guid})`));
    }
  }
}

function checkOverlaps(out: Violation[], entries: MetadataTableEntry[]): void {
  const spans = entries
    .map((e, i) => ({ index: i, start: e.offset, end: e.offset + e.length }))
    .filter((s) => s.end > s.start)
    .sort((a, b) => a.start - b.start);
  let reach: (typeof spans)[number] | undefined;
  for (const span of spans) {
    if (reach !== undefined && span.start < reach.end) {
      const message = `item [${span.start}, ${span.end}) overlaps entries[${reach.index}] [${reach.start}, ${reach.end})`;
      out.push(violation("ITEM_OVERLAP", "BAD_FIELD", `entries[${span.index}]`, message));
    }
    if (reach === undefined || span.end > reach.end) reach = span;
  }
}
