// MS-VHDX 2.2.3.2 Region Table Entry: 32 bytes, from offset 16 of the table.
//
// | offset | size | field      | rule                                                  |
// |--------|------|------------|-------------------------------------------------------|
// | 0      | 16   | guid       | unique within the table                               |
// | 16     | 8    | fileOffset | multiple of 1 MiB, at least 1 MiB                     |
// | 24     | 4    | length     | multiple of 1 MiB                                     |
// | 28     | 4    | required   | bit 0; an unknown required region refuses the file    |
//
// Bits 1-31 of the Required field are kept as `reserved` so a round trip is lossless.
import { HEADER_SECTION_SIZE, MiB } from "./constants.js";
import { Reader, Writer } from "./internal/bytes.js";
import { checkAlignment, violation } from "./internal/rules.js";
import type { Violation } from "./violation.js";

export const REGION_TABLE_ENTRY_SIZE = 32;
const STRUCTURE = "region table entry";

export interface RegionTableEntry {
  guid: string;
  fileOffset: number;
  length: number;
  required: boolean;
  /** Bits 1-31 of the Required field. */
  reserved: number;
}

export type RegionTableEntryInit = Omit<RegionTableEntry, "reserved"> & Partial<Pick<RegionTableEntry, "reserved">>;

export function decodeRegionTableEntry(bytes: Uint8Array, offset = 0, fileOffset?: number): RegionTableEntry {
  const r = new Reader(STRUCTURE, bytes, offset, REGION_TABLE_ENTRY_SIZE, fileOffset);
  const flags = r.u32(28);
  return {
    guid: r.guid(0),
    fileOffset: r.u64(16, "fileOffset"),
    length: r.u32(24),
    required: (flags & 1) === 1,
    reserved: flags >>> 1,
  };
}

export function encodeRegionTableEntry(value: RegionTableEntryInit): Uint8Array {
  const w = new Writer(STRUCTURE, REGION_TABLE_ENTRY_SIZE);
  writeRegionTableEntry(w, 0, value);
  return w.bytes;
}

/** Lays an entry out into a writer; shared with the region table encoder. */
export function writeRegionTableEntry(w: Writer, position: number, value: RegionTableEntryInit, prefix = ""): void {
  w.guid(position, value.guid, `${prefix}guid`);
  w.u64(position + 16, value.fileOffset, `${prefix}fileOffset`);
  w.u32(position + 24, value.length, `${prefix}length`);
  const reserved = w.checkInteger(value.reserved ?? 0, 0x7fff_ffff, `${prefix}reserved`);
  w.u32(position + 28, reserved * 2 + (value.required ? 1 : 0), `${prefix}required`);
}

/** Rules: ALIGNMENT (file offset, length), HEADER_SECTION (a region inside the first 1 MiB). */
export function validateRegionTableEntry(value: RegionTableEntry): Violation[] {
  const out: Violation[] = [];
  checkAlignment(out, "fileOffset", value.fileOffset, MiB, "1 MiB");
  checkAlignment(out, "length", value.length, MiB, "1 MiB");
  if (value.fileOffset < HEADER_SECTION_SIZE) {
    const message = `file offset ${value.fileOffset} lies inside the 1 MiB header section`;
    out.push(violation("HEADER_SECTION", "BAD_FIELD", "fileOffset", message));
  }
  return out;
}
