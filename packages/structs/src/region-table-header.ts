// MS-VHDX 2.2.3.1 Region Table Header: the first 16 bytes of a region table.
//
// | offset | size | field      | rule                                                   |
// |--------|------|------------|--------------------------------------------------------|
// | 0      | 4    | signature  | "regi"                                                 |
// | 4      | 4    | checksum   | CRC-32C over the whole 64 KiB table, this field as zero |
// | 8      | 4    | entryCount | at most 2047                                           |
// | 12     | 4    | reserved   | zero                                                   |
import { MAX_REGION_TABLE_ENTRIES, REGION_TABLE_SIGNATURE } from "./constants.js";
import { Reader, Writer } from "./internal/bytes.js";
import { checkReserved, checkSignature, violation } from "./internal/rules.js";
import type { Violation } from "./violation.js";

export const REGION_TABLE_HEADER_SIZE = 16;
const STRUCTURE = "region table header";

export interface RegionTableHeader {
  signature: string;
  checksum: number;
  entryCount: number;
  reserved: number;
}

export type RegionTableHeaderInit = Pick<RegionTableHeader, "entryCount"> &
  Partial<Pick<RegionTableHeader, "signature" | "checksum" | "reserved">>;

export function decodeRegionTableHeader(bytes: Uint8Array, offset = 0, fileOffset?: number): RegionTableHeader {
  const r = new Reader(STRUCTURE, bytes, offset, REGION_TABLE_HEADER_SIZE, fileOffset);
  return { signature: r.ascii(0, 4), checksum: r.u32(4), entryCount: r.u32(8), reserved: r.u32(12) };
}

/** The 16 bytes, with `checksum` as given (it covers the whole table; see encodeRegionTable). */
export function encodeRegionTableHeader(value: RegionTableHeaderInit): Uint8Array {
  const w = new Writer(STRUCTURE, REGION_TABLE_HEADER_SIZE);
  w.ascii(0, value.signature ?? REGION_TABLE_SIGNATURE, 4, "signature");
  w.u32(4, value.checksum ?? 0, "checksum");
  w.u32(8, value.entryCount, "entryCount");
  w.u32(12, value.reserved ?? 0, "reserved");
  return w.bytes;
}

/** Rules: SIGNATURE, ENTRY_COUNT, RESERVED. The checksum needs the whole table: see validateRegionTable. */
export function validateRegionTableHeader(value: RegionTableHeader): Violation[] {
  const out: Violation[] = [];
  checkSignature(out, value.signature, REGION_TABLE_SIGNATURE);
  if (value.entryCount > MAX_REGION_TABLE_ENTRIES) {
    const message = `entry count is ${value.entryCount}, at most ${MAX_REGION_TABLE_ENTRIES} allowed`;
    out.push(violation("ENTRY_COUNT", "BAD_FIELD", "entryCount", message));
  }
  checkReserved(out, "reserved", value.reserved === 0);
  return out;
}
