// MS-VHDX 2.6.1.1 Metadata Table Header: the first 32 bytes of the metadata region.
//
// | offset | size | field      | rule          |
// |--------|------|------------|---------------|
// | 0      | 8    | signature  | "metadata"    |
// | 8      | 2    | reserved   | zero          |
// | 10     | 2    | entryCount | at most 2047  |
// | 12     | 20   | reserved2  | zero          |
import { MAX_METADATA_TABLE_ENTRIES, METADATA_TABLE_SIGNATURE } from "./constants.js";
import { Reader, Writer, isAllZero } from "./internal/bytes.js";
import { checkReserved, checkSignature, violation } from "./internal/rules.js";
import type { Violation } from "./violation.js";

export const METADATA_TABLE_HEADER_SIZE = 32;
const STRUCTURE = "metadata table header";
const RESERVED2_SIZE = 20;

export interface MetadataTableHeader {
  signature: string;
  reserved: number;
  entryCount: number;
  /** 20 reserved bytes. */
  reserved2: Uint8Array;
}

export type MetadataTableHeaderInit = Pick<MetadataTableHeader, "entryCount"> &
  Partial<Pick<MetadataTableHeader, "signature" | "reserved" | "reserved2">>;

export function decodeMetadataTableHeader(bytes: Uint8Array, offset = 0, fileOffset?: number): MetadataTableHeader {
  const r = new Reader(STRUCTURE, bytes, offset, METADATA_TABLE_HEADER_SIZE, fileOffset);
  return { signature: r.ascii(0, 8), reserved: r.u16(8), entryCount: r.u16(10), reserved2: r.copy(12, RESERVED2_SIZE) };
}

export function encodeMetadataTableHeader(value: MetadataTableHeaderInit): Uint8Array {
  const w = new Writer(STRUCTURE, METADATA_TABLE_HEADER_SIZE);
  writeMetadataTableHeader(w, value);
  return w.bytes;
}

export function writeMetadataTableHeader(w: Writer, value: MetadataTableHeaderInit): void {
  w.ascii(0, value.signature ?? METADATA_TABLE_SIGNATURE, 8, "signature");
  w.u16(8, value.reserved ?? 0, "reserved");
  w.u16(10, value.entryCount, "entryCount");
  if (value.reserved2 !== undefined) w.exact(12, value.reserved2, RESERVED2_SIZE, "reserved2");
}

/** Rules: SIGNATURE, ENTRY_COUNT, RESERVED. */
export function validateMetadataTableHeader(value: MetadataTableHeader): Violation[] {
  const out: Violation[] = [];
  checkSignature(out, value.signature, METADATA_TABLE_SIGNATURE);
  if (value.entryCount > MAX_METADATA_TABLE_ENTRIES) {
    const message = `entry count is ${value.entryCount}, at most ${MAX_METADATA_TABLE_ENTRIES} allowed`;
    out.push(violation("ENTRY_COUNT", "BAD_FIELD", "entryCount", message));
  }
  checkReserved(out, "reserved", value.reserved === 0);
  checkReserved(out, "reserved2", isAllZero(value.reserved2));
  return out;
}
