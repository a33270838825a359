// MS-VHDX 2.6.2.6.1 Parent Locator Header: the first 20 bytes of the parent locator item.
//
// | offset | size | field         | rule                                               |
// |--------|------|---------------|----------------------------------------------------|
// | 0      | 16   | locatorType   | GUID; the VHDX type is B04AEFB7-D19E-4A81-B789-25B8E9445913 |
// | 16     | 2    | reserved      | zero                                               |
// | 18     | 2    | keyValueCount | number of 12-byte entries that follow              |
import { Reader, Writer } from "./internal/bytes.js";
import { checkReserved } from "./internal/rules.js";
import type { Violation } from "./violation.js";

export const PARENT_LOCATOR_HEADER_SIZE = 20;
const STRUCTURE = "parent locator header";

export interface ParentLocatorHeader {
  locatorType: string;
  reserved: number;
  keyValueCount: number;
}

export type ParentLocatorHeaderInit = Omit<ParentLocatorHeader, "reserved"> &
  Partial<Pick<ParentLocatorHeader, "reserved">>;

export function decodeParentLocatorHeader(bytes: Uint8Array, offset = 0, fileOffset?: number): ParentLocatorHeader {
  const r = new Reader(STRUCTURE, bytes, offset, PARENT_LOCATOR_HEADER_SIZE, fileOffset);
  return { locatorType: r.guid(0), reserved: r.u16(16), keyValueCount: r.u16(18) };
}

export function encodeParentLocatorHeader(value: ParentLocatorHeaderInit): Uint8Array {
  const w = new Writer(STRUCTURE, PARENT_LOCATOR_HEADER_SIZE);
  writeParentLocatorHeader(w, value);
  return w.bytes;
}

export function writeParentLocatorHeader(w: Writer, value: ParentLocatorHeaderInit): void {
  w.guid(0, value.locatorType, "locatorType");
  w.u16(16, value.reserved ?? 0, "reserved");
  w.u16(18, value.keyValueCount, "keyValueCount");
}

/** Rules: RESERVED. Whether the locator type is understood is for validateParentLocator. */
export function validateParentLocatorHeader(value: ParentLocatorHeader): Violation[] {
  const out: Violation[] = [];
  checkReserved(out, "reserved", value.reserved === 0);
  return out;
}
