// GUIDs as VHDX stores them (MS-VHDX 2.1, "GUID" in MS-DTYP 2.3.4.2):
//
// | offset | size | field | byte order          |
// |--------|------|-------|---------------------|
// | 0      | 4    | Data1 | little-endian       |
// | 4      | 2    | Data2 | little-endian       |
// | 6      | 2    | Data3 | little-endian       |
// | 8      | 8    | Data4 | as written in text  |
//
// So 2DC27766-F623-4200-9D64-115E9BFD4A08 is stored as
// 66 77 C2 2D 23 F6 00 42 9D 64 11 5E 9B FD 4A 08.
import { v4 as uuidV4 } from "uuid";

export const GUID_BYTE_LENGTH = 16;

/** The all-zero GUID. */
export const NIL_GUID = "00000000-0000-0000-0000-000000000000";

const BARE_GUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Text position of each stored byte: Data1..3 reversed, Data4 as written. */
const TEXT_POSITION_OF_BYTE = [6, 4, 2, 0, 11, 9, 16, 14, 19, 21, 24, 26, 28, 30, 32, 34];

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** Value of each hex digit by char code; only read after the text is validated. */
const HEX_VALUE = new Uint8Array(128);
for (let digit = 0; digit < 16; digit++) {
  HEX_VALUE[digit.toString(16).charCodeAt(0)] = digit;
  HEX_VALUE[digit.toString(16).toUpperCase().charCodeAt(0)] = digit;
}

/** True when `text` is a GUID in the forms guidToBytes accepts. */
export function isGuid(text: string): boolean {
  return bareGuidText(text) !== null;
}

/**
 * Lower-case, brace-less form of a GUID text. Throws a TypeError when `text`
 * is not a GUID (upper or lower case, with or without braces).
 */
export function normalizeGuid(text: string): string {
  return checkedBareGuidText(text).toLowerCase();
}

/** The 16 bytes of a GUID in the Microsoft layout. */
export function guidToBytes(text: string): Uint8Array {
  const bytes = new Uint8Array(GUID_BYTE_LENGTH);
  writeGuid(text, bytes, 0);
  return bytes;
}

/** Writes the 16 bytes of a GUID into `target` at `offset`, without allocating. */
export function writeGuid(text: string, target: Uint8Array, offset = 0): void {
  const bare = checkedBareGuidText(text);
  checkRange(target, offset, "writeGuid");
  for (let i = 0; i < GUID_BYTE_LENGTH; i++) {
    const at = TEXT_POSITION_OF_BYTE[i]!;
    target[offset + i] = (HEX_VALUE[bare.charCodeAt(at)]! << 4) | HEX_VALUE[bare.charCodeAt(at + 1)]!;
  }
}

/** The GUID stored at `bytes[offset..offset+16)`, lower case, no braces. */
export function guidFromBytes(bytes: Uint8Array, offset = 0): string {
  checkRange(bytes, offset, "guidFromBytes");
  const h = (i: number) => HEX[bytes[offset + i]!]!;
  return (
    h(3) +
    h(2) +
    h(1) +
    h(0) +
    "-" +
    h(5) +
    h(4) +
    "-" +
    h(7) +
    h(6) +
    "-" +
    h(8) +
    h(9) +
    "-" +
    h(10) +
    h(11) +
    h(12) +
    h(13) +
    h(14) +
    h(15)
  );
}

/** A new random (version 4) GUID, lower case. */
export function randomGuid(): string {
  return uuidV4();
}

/** True for the all-zero GUID, in any accepted text form. */
export function isNilGuid(text: string): boolean {
  return normalizeGuid(text) === NIL_GUID;
}

/** True when two GUID texts name the same GUID (case and braces ignored). */
export function guidEquals(a: string, b: string): boolean {
  return normalizeGuid(a) === normalizeGuid(b);
}

/** The GUID text without braces, in its original case, or null when it is no GUID. */
function bareGuidText(text: string): string | null {
  if (typeof text !== "string") return null;
  const braced = text.length === 38 && text.charCodeAt(0) === 0x7b && text.charCodeAt(37) === 0x7d;
  const bare = braced ? text.slice(1, 37) : text;
  return BARE_GUID_TEXT.test(bare) ? bare : null;
}

function checkedBareGuidText(text: string): string {
  const bare = bareGuidText(text);
  if (bare === null) {
    throw new TypeError(`not a GUID: ${JSON.stringify(text)} (expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)`);
  }
  return bare;
}

function checkRange(bytes: Uint8Array, offset: number, caller: string): void {
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`${caller}: bytes must be a Uint8Array`);
  if (!Number.isInteger(offset) || offset < 0 || offset + GUID_BYTE_LENGTH > bytes.length) {
    throw new RangeError(`${caller}: a GUID needs 16 bytes at offset ${offset}, but the array holds ${bytes.length}`);
  }
}
