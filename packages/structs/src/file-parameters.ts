// MS-VHDX 2.6.2.1 File Parameters metadata item (CAA16737-FA36-4D43-B3B6-33F0AA44E76B).
//
// | offset | size | field     | rule                                                    |
// |--------|------|-----------|---------------------------------------------------------|
// | 0      | 4    | blockSize | power of two, 1 MiB to 256 MiB                          |
// | 4      | 4    | flags     | bit 0 leaveBlockAllocated, bit 1 hasParent; bits 2-31 `reserved`, zero |
import { MAX_BLOCK_SIZE, MIN_BLOCK_SIZE } from "./constants.js";
import { Reader, Writer } from "./internal/bytes.js";
import { checkReserved, violation } from "./internal/rules.js";
import type { Violation } from "./violation.js";

export const FILE_PARAMETERS_SIZE = 8;
const STRUCTURE = "file parameters";

export interface FileParameters {
  blockSize: number;
  /** A fixed disk: blocks stay allocated. Ignored when hasParent is set. */
  leaveBlockAllocated: boolean;
  /** A differencing disk: there is a parent locator. */
  hasParent: boolean;
  /** Bits 2-31 of the flags. */
  reserved: number;
}

export type FileParametersInit = Omit<FileParameters, "reserved"> & Partial<Pick<FileParameters, "reserved">>;

export function decodeFileParameters(bytes: Uint8Array, offset = 0, fileOffset?: number): FileParameters {
  const r = new Reader(STRUCTURE, bytes, offset, FILE_PARAMETERS_SIZE, fileOffset);
  const flags = r.u32(4);
  return {
    blockSize: r.u32(0),
    leaveBlockAllocated: (flags & 1) !== 0,
    hasParent: (flags & 2) !== 0,
    reserved: flags >>> 2,
  };
}

export function encodeFileParameters(value: FileParametersInit): Uint8Array {
  const w = new Writer(STRUCTURE, FILE_PARAMETERS_SIZE);
  w.u32(0, value.blockSize, "blockSize");
  const reserved = w.checkInteger(value.reserved ?? 0, 0x3fff_ffff, "reserved");
  w.u32(4, (value.leaveBlockAllocated ? 1 : 0) + (value.hasParent ? 2 : 0) + reserved * 4, "flags");
  return w.bytes;
}

/** Rules: BLOCK_SIZE, RESERVED. */
export function validateFileParameters(value: FileParameters): Violation[] {
  const out: Violation[] = [];
  const size = value.blockSize;
  if (size < MIN_BLOCK_SIZE || size > MAX_BLOCK_SIZE || (size & (size - 1)) !== 0) {
    const message = `block size ${size} is not a power of two from 1 MiB to 256 MiB`;
    out.push(violation("BLOCK_SIZE", "BAD_FIELD", "blockSize", message));
  }
  checkReserved(out, "reserved", value.reserved === 0);
  return out;
}
