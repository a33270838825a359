// Where the structures of a seed image are and what their fields are, so the
// mutator can rewrite a field and then fix the checksum that covers it. Built
// from the spec's layouts (MS-VHDX 2.2 to 2.6) and @vhdx/structs' decoders;
// bounded: at most MAX_BAT_ENTRIES BAT entries, MAX_LOG_ENTRIES log entries.
// Over 300 lines: one field list per structure of the spec, kept together.
import {
  BAT_REGION_GUID,
  FILE_PARAMETERS_GUID,
  HEADER_1_OFFSET,
  HEADER_2_OFFSET,
  HEADER_SIZE,
  LOGICAL_SECTOR_SIZE_GUID,
  LOG_SECTOR_SIZE,
  METADATA_REGION_GUID,
  METADATA_TABLE_SIZE,
  MiB,
  PARENT_LOCATOR_GUID,
  PHYSICAL_SECTOR_SIZE_GUID,
  type ParentLocator,
  REGION_TABLE_1_OFFSET,
  REGION_TABLE_2_OFFSET,
  REGION_TABLE_SIZE,
  VIRTUAL_DISK_ID_GUID,
  VIRTUAL_DISK_SIZE_GUID,
  decodeHeader,
  decodeLogEntryHeader,
  decodeMetadataTable,
  decodeParentLocator,
  decodeRegionTable,
  descriptorSectorCount,
  verifyHeaderChecksum,
} from "@vhdx/structs";

export type FieldKind = "u8" | "u16" | "u32" | "u64" | "guid";

export interface Field {
  name: string;
  /** Absolute file offset. */
  offset: number;
  kind: FieldKind;
}

/** What checksum covers a structure: a plain CRC-32C over [start, start + length), or a log entry's. */
type Checksum = { kind: "crc"; start: number; length: number } | { kind: "log entry"; start: number; ringEnd: number };

export type StructureKind =
  | "file identifier"
  | "header"
  | "region table"
  | "metadata table"
  | "metadata item"
  | "parent locator"
  | "BAT"
  | "log entry"
  | "block";

export interface Structure {
  name: string;
  kind: StructureKind;
  offset: number;
  length: number;
  fields: Field[];
  checksum?: Checksum;
}

export interface LocatorInfo {
  /** File offset of the parent locator item. */
  itemOffset: number;
  itemLength: number;
  /** The space the item may grow into (up to the next item or 64 KiB). */
  itemRoom: number;
  /** File offset of the item's Length field in the metadata table entry. */
  lengthFieldOffset: number;
  locator: ParentLocator;
}

export interface StructureMap {
  fileSize: number;
  structures: Structure[];
  /** The current header's slot (1 or 2), or 0 when neither is valid. */
  currentHeader: 0 | 1 | 2;
  dataWriteGuid: string | null;
  log: { offset: number; length: number } | null;
  bat: { offset: number; length: number; entries: number } | null;
  metadata: { offset: number; length: number } | null;
  locator: LocatorInfo | null;
  /** LogGuids found in log entries (to point a header at an old log). */
  logGuids: string[];
  /** File offsets of allocated payload and bitmap blocks (at most MAX_BAT_ENTRIES). */
  blockOffsets: number[];
}

const MAX_BAT_ENTRIES = 8192;
const MAX_LOG_ENTRIES = 256;
const MAX_MAPPED_BLOCKS = 16;
const MAX_LOG_SCAN = 16 * MiB;

const u = (name: string, offset: number, kind: FieldKind): Field => ({ name, offset, kind });

export function mapStructures(bytes: Uint8Array): StructureMap {
  const map: StructureMap = {
    fileSize: bytes.length,
    structures: [],
    currentHeader: 0,
    dataWriteGuid: null,
    log: null,
    bat: null,
    metadata: null,
    locator: null,
    logGuids: [],
    blockOffsets: [],
  };
  map.structures.push({
    name: "file identifier",
    kind: "file identifier",
    offset: 0,
    length: 8,
    fields: [u("signature", 0, "u64")],
  });
  mapHeaders(bytes, map);
  mapRegionTables(bytes, map);
  if (map.metadata) mapMetadata(bytes, map, map.metadata.offset);
  if (map.bat) mapBat(bytes, map, map.bat);
  if (map.log) mapLog(bytes, map, map.log);
  return map;
}

function mapHeaders(bytes: Uint8Array, map: StructureMap): void {
  let best: { slot: 1 | 2; sequence: bigint; dataWriteGuid: string; logOffset: number; logLength: number } | null =
    null;
  for (const [slot, offset] of [
    [1, HEADER_1_OFFSET],
    [2, HEADER_2_OFFSET],
  ] as const) {
    if (!fits(bytes, offset, HEADER_SIZE)) continue;
    map.structures.push({
      name: `header ${slot}`,
      kind: "header",
      offset,
      length: HEADER_SIZE,
      checksum: { kind: "crc", start: offset, length: HEADER_SIZE },
      fields: [
        u("signature", offset, "u32"),
        u("sequenceNumber", offset + 8, "u64"),
        u("fileWriteGuid", offset + 16, "guid"),
        u("dataWriteGuid", offset + 32, "guid"),
        u("logGuid", offset + 48, "guid"),
        u("logVersion", offset + 64, "u16"),
        u("version", offset + 66, "u16"),
        u("logLength", offset + 68, "u32"),
        u("logOffset", offset + 72, "u64"),
        u("reserved", offset + 80, "u32"),
      ],
    });
    const header = attempt(() => (verifyHeaderChecksum(bytes, offset) ? decodeHeader(bytes, offset, offset) : null));
    if (header && header.signature === "head" && (best === null || header.sequenceNumber > best.sequence)) {
      best = {
        slot,
        sequence: header.sequenceNumber,
        dataWriteGuid: header.dataWriteGuid,
        logOffset: header.logOffset,
        logLength: header.logLength,
      };
    }
  }
  if (best === null) return;
  map.currentHeader = best.slot;
  map.dataWriteGuid = best.dataWriteGuid;
  if (best.logLength > 0 && fits(bytes, best.logOffset, Math.min(best.logLength, MAX_LOG_SCAN))) {
    map.log = { offset: best.logOffset, length: best.logLength };
  }
}

function mapRegionTables(bytes: Uint8Array, map: StructureMap): void {
  for (const [copy, offset] of [
    [1, REGION_TABLE_1_OFFSET],
    [2, REGION_TABLE_2_OFFSET],
  ] as const) {
    if (!fits(bytes, offset, REGION_TABLE_SIZE)) continue;
    const table = attempt(() => decodeRegionTable(bytes, offset, offset));
    const count = table?.entries.length ?? 0;
    const fields = [
      u("signature", offset, "u32"),
      u("entryCount", offset + 8, "u32"),
      u("reserved", offset + 12, "u32"),
    ];
    for (let i = 0; i < Math.max(count, 2); i++) {
      const at = offset + 16 + i * 32;
      fields.push(u(`entries[${i}].guid`, at, "guid"), u(`entries[${i}].fileOffset`, at + 16, "u64"));
      fields.push(u(`entries[${i}].length`, at + 24, "u32"), u(`entries[${i}].required`, at + 28, "u32"));
    }
    map.structures.push({
      name: `region table ${copy}`,
      kind: "region table",
      offset,
      length: REGION_TABLE_SIZE,
      checksum: { kind: "crc", start: offset, length: REGION_TABLE_SIZE },
      fields,
    });
    for (const entry of table?.entries ?? []) {
      const region = { offset: entry.fileOffset, length: entry.length };
      if (entry.guid === BAT_REGION_GUID) map.bat ??= { ...region, entries: 0 };
      if (entry.guid === METADATA_REGION_GUID) map.metadata ??= region;
    }
  }
}

const ITEM_FIELDS: Record<string, Array<[string, number, FieldKind]>> = {
  [FILE_PARAMETERS_GUID]: [
    ["blockSize", 0, "u32"],
    ["flags", 4, "u32"],
  ],
  [VIRTUAL_DISK_SIZE_GUID]: [["virtualDiskSize", 0, "u64"]],
  [VIRTUAL_DISK_ID_GUID]: [["virtualDiskId", 0, "guid"]],
  [LOGICAL_SECTOR_SIZE_GUID]: [["logicalSectorSize", 0, "u32"]],
  [PHYSICAL_SECTOR_SIZE_GUID]: [["physicalSectorSize", 0, "u32"]],
};

function mapMetadata(bytes: Uint8Array, map: StructureMap, regionOffset: number): void {
  if (!fits(bytes, regionOffset, METADATA_TABLE_SIZE)) return;
  const table = attempt(() => decodeMetadataTable(bytes, regionOffset, regionOffset));
  const entries = table?.entries ?? [];
  const fields = [
    u("signature", regionOffset, "u64"),
    u("reserved", regionOffset + 8, "u16"),
    u("entryCount", regionOffset + 10, "u16"),
  ];
  entries.forEach((_, i) => {
    const at = regionOffset + 32 + i * 32;
    fields.push(u(`entries[${i}].itemId`, at, "guid"), u(`entries[${i}].offset`, at + 16, "u32"));
    fields.push(
      u(`entries[${i}].length`, at + 20, "u32"),
      u(`entries[${i}].flags`, at + 24, "u32"),
      u(`entries[${i}].reserved`, at + 28, "u32"),
    );
  });
  map.structures.push({
    name: "metadata table",
    kind: "metadata table",
    offset: regionOffset,
    length: METADATA_TABLE_SIZE,
    fields,
  });
  entries.forEach((entry, i) => {
    const offset = regionOffset + entry.offset;
    if (entry.length === 0 || !fits(bytes, offset, entry.length)) return;
    if (entry.itemId === PARENT_LOCATOR_GUID && !entry.isUser) {
      mapLocator(
        bytes,
        map,
        offset,
        entry.length,
        regionOffset + 32 + i * 32 + 20,
        nextItemStart(entries, entry.offset) - entry.offset,
      );
      return;
    }
    // A user item (IsUser) is the caller's own bytes: its first and last words are
    // fields, and its name never passes for the system item of the same GUID.
    const known = entry.isUser ? userItemFields(entry.length) : ITEM_FIELDS[entry.itemId];
    const itemFields = (known ?? [["word0", 0, "u32"]])
      .filter(([, at]) => at < entry.length)
      .map(([name, at, kind]) => u(name, offset + at, kind));
    map.structures.push({
      name: `${entry.isUser ? "user " : ""}metadata item ${entry.itemId}`,
      kind: "metadata item",
      offset,
      length: entry.length,
      fields: itemFields,
    });
  });
}

function userItemFields(length: number): Array<[string, number, FieldKind]> {
  const last = Math.floor((length - 4) / 4) * 4;
  return last > 0
    ? [
        ["word0", 0, "u32"],
        ["lastWord", last, "u32"],
      ]
    : [["word0", 0, "u32"]];
}

function nextItemStart(entries: ReadonlyArray<{ offset: number; length: number }>, start: number): number {
  const after = entries.map((e) => e.offset).filter((o) => o > start);
  return Math.min(start + 64 * 1024, ...after);
}

function mapLocator(
  bytes: Uint8Array,
  map: StructureMap,
  offset: number,
  length: number,
  lengthFieldOffset: number,
  itemRoom: number,
): void {
  const item = bytes.subarray(offset, offset + length);
  const locator = attempt(() => decodeParentLocator(item, 0, offset));
  const count = locator?.pairs?.length ?? 0;
  const fields = [
    u("locatorType", offset, "guid"),
    u("reserved", offset + 16, "u16"),
    u("keyValueCount", offset + 18, "u16"),
  ];
  for (let i = 0; i < count; i++) {
    const at = offset + 20 + i * 12;
    fields.push(u(`entries[${i}].keyOffset`, at, "u32"), u(`entries[${i}].valueOffset`, at + 4, "u32"));
    fields.push(u(`entries[${i}].keyLength`, at + 8, "u16"), u(`entries[${i}].valueLength`, at + 10, "u16"));
  }
  map.structures.push({ name: "parent locator", kind: "parent locator", offset, length, fields });
  if (locator) map.locator = { itemOffset: offset, itemLength: length, itemRoom, lengthFieldOffset, locator };
}

function mapBat(bytes: Uint8Array, map: StructureMap, bat: { offset: number; length: number; entries: number }): void {
  const available = Math.max(0, Math.min(bat.length, bytes.length - bat.offset));
  bat.entries = Math.min(Math.floor(available / 8), MAX_BAT_ENTRIES);
  if (bat.entries === 0) return;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fields: Field[] = [];
  for (let i = 0; i < bat.entries; i++) {
    const at = bat.offset + i * 8;
    const low = view.getUint32(at, true);
    const offsetMB = (low >>> 20) + view.getUint32(at + 4, true) * 4096;
    if ((low & 7) >= 6 && offsetMB > 0) map.blockOffsets.push(offsetMB * MiB);
    if ((low & 7) !== 0 || offsetMB !== 0 || i < 16) fields.push(u(`entries[${i}]`, at, "u64"));
  }
  map.structures.push({ name: "BAT", kind: "BAT", offset: bat.offset, length: bat.entries * 8, fields });
  // The first MiB of some blocks (a sector bitmap among them in a differencing disk), as targets for raw-byte mutations.
  for (const offset of map.blockOffsets.slice(0, MAX_MAPPED_BLOCKS)) {
    if (fits(bytes, offset, MiB))
      map.structures.push({ name: `block @0x${offset.toString(16)}`, kind: "block", offset, length: MiB, fields: [] });
  }
}

/** Every 4 KiB sector of the ring that starts a log entry lying whole inside the ring. */
function mapLog(bytes: Uint8Array, map: StructureMap, log: { offset: number; length: number }): void {
  const ringEnd = log.offset + Math.min(log.length, MAX_LOG_SCAN);
  for (
    let at = log.offset;
    at + LOG_SECTOR_SIZE <= ringEnd && map.logGuids.length < MAX_LOG_ENTRIES;
    at += LOG_SECTOR_SIZE
  ) {
    const header = attempt(() => decodeLogEntryHeader(bytes, at, at));
    if (header?.signature !== "loge") continue;
    const { entryLength, descriptorCount } = header;
    if (entryLength === 0 || entryLength % LOG_SECTOR_SIZE !== 0 || at + entryLength > ringEnd) continue;
    if (descriptorSectorCount(descriptorCount) * LOG_SECTOR_SIZE > entryLength) continue;
    map.logGuids.push(header.logGuid);
    map.structures.push({
      name: `log entry @0x${at.toString(16)}`,
      kind: "log entry",
      offset: at,
      length: entryLength,
      checksum: { kind: "log entry", start: at, ringEnd },
      fields: logEntryFields(bytes, at, descriptorCount, entryLength),
    });
  }
}

function logEntryFields(bytes: Uint8Array, at: number, descriptorCount: number, entryLength: number): Field[] {
  const fields = [
    u("signature", at, "u32"),
    u("entryLength", at + 8, "u32"),
    u("tail", at + 12, "u32"),
    u("sequenceNumber", at + 16, "u64"),
    u("descriptorCount", at + 24, "u32"),
    u("reserved", at + 28, "u32"),
    u("logGuid", at + 32, "guid"),
    u("flushedFileOffset", at + 48, "u64"),
    u("lastFileOffset", at + 56, "u64"),
  ];
  let dataSector = at + descriptorSectorCount(descriptorCount) * LOG_SECTOR_SIZE;
  for (let i = 0; i < Math.min(descriptorCount, 32); i++) {
    const d = at + 64 + i * 32;
    const isData = ascii(bytes, d, 4) === "desc";
    fields.push(
      u(`descriptors[${i}].signature`, d, "u32"),
      u(`descriptors[${i}].${isData ? "leadingBytes" : "zeroLength"}`, d + 8, "u64"),
    );
    fields.push(u(`descriptors[${i}].fileOffset`, d + 16, "u64"), u(`descriptors[${i}].sequenceNumber`, d + 24, "u64"));
    if (isData && dataSector + LOG_SECTOR_SIZE <= at + entryLength) {
      fields.push(
        u(`dataSectors[${i}].sequenceHigh`, dataSector + 4, "u32"),
        u(`dataSectors[${i}].sequenceLow`, dataSector + 4092, "u32"),
      );
      dataSector += LOG_SECTOR_SIZE;
    }
  }
  return fields;
}

function ascii(bytes: Uint8Array, offset: number, length: number): string {
  return String.fromCharCode(...bytes.subarray(offset, offset + length));
}

function fits(bytes: Uint8Array, offset: number, length: number): boolean {
  return Number.isSafeInteger(offset) && offset >= 0 && offset + length <= bytes.length;
}

function attempt<T>(decode: () => T): T | null {
  try {
    return decode();
  } catch {
    return null;
  }
}
