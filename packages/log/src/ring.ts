// MS-VHDX 2.3 Log: one contiguous ring buffer of LogLength bytes made of 4 KiB
// sectors. An entry starts on a sector and its sectors may run past the end of
// the ring and continue at its start. Argument checks shared by every module.
//
// | what          | rule                                                                  |
// |---------------|-----------------------------------------------------------------------|
// | ring          | a Uint8Array of LogLength bytes: a nonzero multiple of 4 KiB below 2^32 |
// |               | (a valid header also makes it a multiple of 1 MiB; checked there)      |
// | ring offset   | a multiple of 4 KiB inside the ring                                    |
// | LogGuid       | a GUID; the nil GUID means the log is empty (2.2.2)                    |
import { isGuid, normalizeGuid } from "@vhdx/guid";
import { LOG_SECTOR_SIZE, VhdxError } from "@vhdx/structs";

/** The largest ring: LogLength is a u32 and a multiple of 4 KiB. */
export const MAX_LOG_LENGTH = 2 ** 32 - LOG_SECTOR_SIZE;

/** TypeError unless `ring` is a Uint8Array; BAD_FIELD unless its length is a log's. */
export function checkRing(ring: unknown, where: string): asserts ring is Uint8Array {
  if (!(ring instanceof Uint8Array)) throw new TypeError(`${where}: ring must be a Uint8Array`);
  checkLogLength(ring.length, where);
}

/** BAD_FIELD unless `length` is a nonzero multiple of 4 KiB up to MAX_LOG_LENGTH. */
export function checkLogLength(length: number, where: string): void {
  if (!Number.isSafeInteger(length) || length <= 0 || length % LOG_SECTOR_SIZE !== 0 || length > MAX_LOG_LENGTH) {
    const detail = `${where}: the log is ${length} bytes, not a nonzero multiple of 4 KiB below 4 GiB`;
    throw new VhdxError("BAD_FIELD", detail, { structure: "log", field: "logLength" });
  }
}

/** TypeError unless an integer; OUT_OF_RANGE unless a 4 KiB-aligned offset inside a ring of `ringLength` bytes. */
export function checkRingOffset(offset: unknown, ringLength: number, where: string, name = "offset"): number {
  if (typeof offset !== "number" || !Number.isSafeInteger(offset)) {
    throw new TypeError(`${where}: ${name} must be an integer`);
  }
  if (offset < 0 || offset >= ringLength || offset % LOG_SECTOR_SIZE !== 0) {
    const detail = `${where}: ${name} ${offset} is not a 4 KiB-aligned offset inside the ${ringLength}-byte log`;
    throw new VhdxError("OUT_OF_RANGE", detail, { structure: "log", field: name });
  }
  return offset;
}

/** The GUID in lower case; TypeError when `text` is not one. */
export function checkLogGuid(text: unknown, where: string): string {
  if (typeof text !== "string" || !isGuid(text)) throw new TypeError(`${where}: logGuid must be a GUID string`);
  return normalizeGuid(text);
}

/** TypeError unless a non-negative safe integer. */
export function checkSize(value: unknown, where: string, name: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new TypeError(`${where}: ${name} must be a non-negative integer`);
  }
  return value;
}

/** How far forward `to` lies from `from` in a ring of `ringLength` bytes: 0 to ringLength - 1. */
export function forwardDistance(from: number, to: number, ringLength: number): number {
  return (((to - from) % ringLength) + ringLength) % ringLength;
}

/** Whether the four bytes at `offset` spell `signature`. */
export function hasSignature(bytes: Uint8Array, offset: number, signature: string): boolean {
  return (
    bytes[offset] === signature.charCodeAt(0) &&
    bytes[offset + 1] === signature.charCodeAt(1) &&
    bytes[offset + 2] === signature.charCodeAt(2) &&
    bytes[offset + 3] === signature.charCodeAt(3)
  );
}

/** `0x1000`: offsets in messages. */
export function hex(value: number): string {
  return `0x${value.toString(16)}`;
}

/** The four bytes at `offset` as `0x6c6f6765`, for a message about a wrong signature. */
export function signatureHex(bytes: Uint8Array, offset: number): string {
  let text = "0x";
  for (let i = 0; i < 4; i++) text += (bytes[offset + i] ?? 0).toString(16).padStart(2, "0");
  return text;
}
