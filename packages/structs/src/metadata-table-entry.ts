// MS-VHDX 2.6.1.2 Metadata Table Entry: 32 bytes, from offset 32 of the table.
//
// | offset | size | field     | rule                                                        |
// |--------|------|-----------|-------------------------------------------------------------|
// | 0      | 16   | itemId    | (itemId, isUser) unique in the table                        |
// | 16     | 4    | offset    | from the region start; at least 64 KiB, or 0 when length is 0 |
// | 20     | 4    | length    | at most 1 MiB; the item lies inside the region, no overlaps |
// | 24     | 4    | flags     | bit 0 isUser, bit 1 isVirtualDisk, bit 2 isRequired; bits 3-31 `reserved`, zero |
// | 28     | 4    | reserved2 | zero                                                        |
import { MAX_METADATA_ITEM_LENGTH, METADATA_TABLE_SIZE } from "./constants.js";
import { Reader, Writer } from "./internal/bytes.js";
import { checkReserved, violation } from "./internal/rules.js";
import type { Violation } from "./violation.js";

export const METADATA_TABLE_ENTRY_SIZE = 32;
const STRUCTURE = "metadata table entry";

export interface MetadataTableEntry {
  itemId: string;
  /** Byte offset of the item from the start of the metadata region. */
  offset: number;
  length: number;
  isUser: boolean;
  isVirtualDisk: boolean;
  isRequired: boolean;
  /** Bits 3-31 of the flags. */
  reserved: number;
  reserved2: number;
}

export type MetadataTableEntryInit = Omit<MetadataTableEntry, "reserved" | "reserved2"> &
  Partial<Pick<MetadataTableEntry, "reserved" | "reserved2">>;

export interface MetadataTableEntryContext {
  /** Length of the metadata region, to check that the item lies inside it. */
  regionLength?: number;
}

export function decodeMetadataTableEntry(bytes: Uint8Array, offset = 0, fileOffset?: number): MetadataTableEntry {
  const r = new Reader(STRUCTURE, bytes, offset, METADATA_TABLE_ENTRY_SIZE, fileOffset);
  const flags = r.u32(24);
  return {
    itemId: r.guid(0),
    offset: r.u32(16),
    length: r.u32(20),
    isUser: (flags & 1) !== 0,
    isVirtualDisk: (flags & 2) !== 0,
    isRequired: (flags & 4) !== 0,
    reserved: flags >>> 3,
    reserved2: r.u32(28),
  };
}

export function encodeMetadataTableEntry(value: MetadataTableEntryInit): Uint8Array {
  const w = new Writer(STRUCTURE, METADATA_TABLE_ENTRY_SIZE);
  writeMetadataTableEntry(w, 0, value);
  return w.bytes;
}

export function writeMetadataTableEntry(w: Writer, position: number, value: MetadataTableEntryInit, prefix = ""): void {
  w.guid(position, value.itemId, `${prefix}itemId`);
  w.u32(position + 16, value.offset, `${prefix}offset`);
  w.u32(position + 20, value.length, `${prefix}length`);
  const reserved = w.checkInteger(value.reserved ?? 0, 0x1fff_ffff, `${prefix}reserved`);
  const flags = (value.isUser ? 1 : 0) + (value.isVirtualDisk ? 2 : 0) + (value.isRequired ? 4 : 0) + reserved * 8;
  w.u32(position + 24, flags, `${prefix}flags`);
  w.u32(position + 28, value.reserved2 ?? 0, `${prefix}reserved2`);
}

/** Rules: ITEM_OFFSET, EMPTY_ITEM, ITEM_LENGTH, OUTSIDE_REGION (with `context.regionLength`), RESERVED. */
export function validateMetadataTableEntry(
  value: MetadataTableEntry,
  context: MetadataTableEntryContext = {},
): Violation[] {
  const out: Violation[] = [];
  if (value.length === 0 && value.offset !== 0) {
    out.push(violation("EMPTY_ITEM", "BAD_FIELD", "offset", `an empty item has offset ${value.offset}, expected 0`));
  }
  if (value.length > 0 && value.offset < METADATA_TABLE_SIZE) {
    const message = `item offset ${value.offset} lies inside the 64 KiB metadata table`;
    out.push(violation("ITEM_OFFSET", "BAD_FIELD", "offset", message));
  }
  if (value.length > MAX_METADATA_ITEM_LENGTH) {
    out.push(violation("ITEM_LENGTH", "BAD_FIELD", "length", `item length ${value.length} is over 1 MiB`));
  }
  const end = value.offset + value.length;
  if (context.regionLength !== undefined && value.length > 0 && end > context.regionLength) {
    const message = `item [${value.offset}, ${end}) runs past the ${context.regionLength}-byte metadata region`;
    out.push(violation("OUTSIDE_REGION", "BAD_FIELD", "length", message));
  }
  checkReserved(out, "reserved", value.reserved === 0);
  checkReserved(out, "reserved2", value.reserved2 === 0);
  return out;
}
