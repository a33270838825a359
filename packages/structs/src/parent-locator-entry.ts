// MS-VHDX 2.6.2.6.2 Parent Locator Entry: 12 bytes each, after the locator header.
//
// | offset | size | field       | rule                                                   |
// |--------|------|-------------|--------------------------------------------------------|
// | 0      | 4    | keyOffset   | from the start of the item; greater than zero          |
// | 4      | 4    | valueOffset | from the start of the item; greater than zero          |
// | 8      | 2    | keyLength   | bytes of UTF-16LE, no trailing NUL; greater than zero  |
// | 10     | 2    | valueLength | bytes of UTF-16LE, no trailing NUL; greater than zero  |
import { Reader, Writer } from "./internal/bytes.js";
import { violation } from "./internal/rules.js";
import type { Violation } from "./violation.js";

export const PARENT_LOCATOR_ENTRY_SIZE = 12;
const STRUCTURE = "parent locator entry";

export interface ParentLocatorEntry {
  keyOffset: number;
  valueOffset: number;
  keyLength: number;
  valueLength: number;
}

export function decodeParentLocatorEntry(bytes: Uint8Array, offset = 0, fileOffset?: number): ParentLocatorEntry {
  const r = new Reader(STRUCTURE, bytes, offset, PARENT_LOCATOR_ENTRY_SIZE, fileOffset);
  return { keyOffset: r.u32(0), valueOffset: r.u32(4), keyLength: r.u16(8), valueLength: r.u16(10) };
}

export function encodeParentLocatorEntry(value: ParentLocatorEntry): Uint8Array {
  const w = new Writer(STRUCTURE, PARENT_LOCATOR_ENTRY_SIZE);
  writeParentLocatorEntry(w, 0, value);
  return w.bytes;
}

export function writeParentLocatorEntry(w: Writer, position: number, value: ParentLocatorEntry, prefix = ""): void {
  w.u32(position, value.keyOffset, `${prefix}keyOffset`);
  w.u32(position + 4, value.valueOffset, `${prefix}valueOffset`);
  w.u16(position + 8, value.keyLength, `${prefix}keyLength`);
  w.u16(position + 10, value.valueLength, `${prefix}valueLength`);
}

/** Rules: OFFSET (zero), LENGTH (zero), ODD_LENGTH (not whole UTF-16 code units). */
export function validateParentLocatorEntry(value: ParentLocatorEntry): Violation[] {
  const out: Violation[] = [];
  for (const part of ["key", "value"] as const) {
    const offsetField = `${part}Offset` as const;
    const lengthField = `${part}Length` as const;
    if (value[offsetField] === 0) out.push(violation("OFFSET", "BAD_FIELD", offsetField, `${part} offset is 0`));
    if (value[lengthField] === 0) out.push(violation("LENGTH", "BAD_FIELD", lengthField, `${part} length is 0`));
    if (value[lengthField] % 2 !== 0) {
      const message = `${part} length ${value[lengthField]} is not a whole number of UTF-16 code units`;
      out.push(violation("ODD_LENGTH", "BAD_FIELD", lengthField, message));
    }
  }
  return out;
}
