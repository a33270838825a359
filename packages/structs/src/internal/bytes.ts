// Bounded little-endian reading and writing of one fixed-size structure.
// A Reader checks once that the whole structure is present, then every field
// read stays inside a DataView cut to exactly that structure. A Writer checks
// every value against its field before it stores it.
import { guidFromBytes, isGuid, writeGuid } from "@vhdx/guid";
import { VhdxError } from "../errors.js";

const TWO_POW_32 = 2 ** 32;
/** The largest high word of a u64 whose value is still a safe integer. */
const MAX_SAFE_HIGH_WORD = 0x1f_ffff;

/** Throws a TypeError unless the arguments of a decoder have the right types. */
function checkDecodeArguments(structure: string, bytes: unknown, offset: unknown, fileOffset: unknown): void {
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`decode ${structure}: bytes must be a Uint8Array`);
  if (typeof offset !== "number" || !Number.isSafeInteger(offset) || offset < 0) {
    throw new TypeError(`decode ${structure}: offset must be a non-negative integer`);
  }
  if (
    fileOffset !== undefined &&
    (typeof fileOffset !== "number" || !Number.isSafeInteger(fileOffset) || fileOffset < 0)
  ) {
    throw new TypeError(`decode ${structure}: fileOffset must be a non-negative integer or undefined`);
  }
}

/** Throws TRUNCATED unless `size` bytes follow `offset`. */
export function requireBytes(
  structure: string,
  bytes: Uint8Array,
  offset: number,
  size: number,
  fileOffset: number | undefined,
): void {
  checkDecodeArguments(structure, bytes, offset, fileOffset);
  const available = Math.max(0, bytes.length - offset);
  if (available < size) {
    throw new VhdxError("TRUNCATED", `needs ${size} bytes, only ${available} available`, {
      structure,
      offset: fileOffset,
    });
  }
}

function hex(value: number | bigint): string {
  return `0x${value.toString(16)}`;
}

/** Adds `delta` to a file offset that may be unknown. */
export function at(fileOffset: number | undefined, delta: number): number | undefined {
  return fileOffset === undefined ? undefined : fileOffset + delta;
}

export class Reader {
  readonly bytes: Uint8Array;
  private readonly view: DataView;

  /** Checks that `size` bytes follow `offset`, else throws TRUNCATED. */
  constructor(
    readonly structure: string,
    bytes: Uint8Array,
    offset: number,
    size: number,
    readonly fileOffset: number | undefined,
  ) {
    requireBytes(structure, bytes, offset, size, fileOffset);
    this.bytes = bytes.subarray(offset, offset + size);
    this.view = new DataView(bytes.buffer, bytes.byteOffset + offset, size);
  }

  u8(position: number): number {
    return this.view.getUint8(position);
  }

  u16(position: number): number {
    return this.view.getUint16(position, true);
  }

  u32(position: number): number {
    return this.view.getUint32(position, true);
  }

  /** A u64 as a number; OUT_OF_RANGE when it would lose precision. */
  u64(position: number, field: string): number {
    const low = this.view.getUint32(position, true);
    const high = this.view.getUint32(position + 4, true);
    if (high > MAX_SAFE_HIGH_WORD) {
      const value = this.view.getBigUint64(position, true);
      throw new VhdxError("OUT_OF_RANGE", `${field} is ${hex(value)}, past 2^53 - 1`, {
        structure: this.structure,
        field,
        offset: this.fileOffset,
      });
    }
    return high * TWO_POW_32 + low;
  }

  bigU64(position: number): bigint {
    return this.view.getBigUint64(position, true);
  }

  guid(position: number): string {
    return guidFromBytes(this.bytes, position);
  }

  /** A copy of `length` bytes. */
  copy(position: number, length: number): Uint8Array {
    return this.bytes.slice(position, position + length);
  }

  /** Bytes as one character each (latin1), so any byte survives a round trip. */
  ascii(position: number, length: number): string {
    return String.fromCharCode(...this.bytes.subarray(position, position + length));
  }
}

export class Writer {
  readonly bytes: Uint8Array;
  private readonly view: DataView;

  constructor(
    readonly structure: string,
    size: number,
  ) {
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
  }

  u16(position: number, value: number, field: string): void {
    this.view.setUint16(position, this.checkInteger(value, 0xffff, field), true);
  }

  u32(position: number, value: number, field: string): void {
    this.view.setUint32(position, this.checkInteger(value, 0xffff_ffff, field), true);
  }

  u64(position: number, value: number, field: string): void {
    const checked = this.checkInteger(value, Number.MAX_SAFE_INTEGER, field);
    this.view.setUint32(position, checked % TWO_POW_32, true);
    this.view.setUint32(position + 4, Math.floor(checked / TWO_POW_32), true);
  }

  bigU64(position: number, value: bigint, field: string): void {
    if (typeof value !== "bigint") throw new TypeError(`encode ${this.structure}: ${field} must be a bigint`);
    if (value < 0n || value > 0xffff_ffff_ffff_ffffn) {
      throw this.error("OUT_OF_RANGE", field, `${field} is ${value}, outside 0 to 2^64 - 1`);
    }
    this.view.setBigUint64(position, value, true);
  }

  guid(position: number, text: string, field: string): void {
    if (!isGuid(text)) throw new TypeError(`encode ${this.structure}: ${field} is not a GUID: ${JSON.stringify(text)}`);
    writeGuid(text, this.bytes, position);
  }

  /** Copies `source`, which must be exactly `length` bytes. */
  exact(position: number, source: Uint8Array, length: number, field: string): void {
    if (!(source instanceof Uint8Array)) throw new TypeError(`encode ${this.structure}: ${field} must be a Uint8Array`);
    if (source.length !== length) {
      throw this.error("BAD_FIELD", field, `${field} must be ${length} bytes, got ${source.length}`);
    }
    this.bytes.set(source, position);
  }

  /** Copies as much of `source` as fits between `position` and `end`. */
  upTo(position: number, end: number, source: Uint8Array, field: string): void {
    if (!(source instanceof Uint8Array)) throw new TypeError(`encode ${this.structure}: ${field} must be a Uint8Array`);
    this.bytes.set(source.subarray(0, Math.max(0, end - position)), position);
  }

  /** A signature of exactly `length` one-byte characters. */
  ascii(position: number, text: string, length: number, field: string): void {
    if (typeof text !== "string") throw new TypeError(`encode ${this.structure}: ${field} must be a string`);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the range is every one-byte character, control ones included.
    if (text.length !== length || /[^\x00-\xff]/.test(text)) {
      throw this.error(
        "BAD_FIELD",
        field,
        `${field} must be ${length} one-byte characters, got ${JSON.stringify(text)}`,
      );
    }
    for (let i = 0; i < length; i++) this.bytes[position + i] = text.charCodeAt(i);
  }

  /** `value` when it is an integer from 0 to `max`, else OUT_OF_RANGE. */
  checkInteger(value: number, max: number, field: string): number {
    if (typeof value !== "number") throw new TypeError(`encode ${this.structure}: ${field} must be a number`);
    if (!Number.isInteger(value) || value < 0 || value > max) {
      throw this.error("OUT_OF_RANGE", field, `${field} is ${value}, outside 0 to ${max}`);
    }
    return value;
  }

  private error(code: "OUT_OF_RANGE" | "BAD_FIELD", field: string, detail: string): VhdxError {
    return new VhdxError(code, detail, { structure: this.structure, field });
  }
}

/** Whether every byte of `bytes` is zero. */
export function isAllZero(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}
