// MS-VHDX 2.6.2.4 Logical Sector Size metadata item (8141BF1D-A96F-4709-BA47-F233A8FAAB5F).
//
// | offset | size | field             | rule                                            |
// |--------|------|-------------------|-------------------------------------------------|
// | 0      | 4    | logicalSectorSize | 512 or 4096; equal to the parent's when there is one |
import {
  SECTOR_SIZE_ITEM_SIZE,
  decodeSectorSize,
  encodeSectorSize,
  validateSectorSize,
} from "./internal/sector-size.js";
import type { Violation } from "./violation.js";

export const LOGICAL_SECTOR_SIZE_SIZE = SECTOR_SIZE_ITEM_SIZE;
const STRUCTURE = "logical sector size";

export function decodeLogicalSectorSize(bytes: Uint8Array, offset = 0, fileOffset?: number): number {
  return decodeSectorSize(STRUCTURE, bytes, offset, fileOffset);
}

export function encodeLogicalSectorSize(logicalSectorSize: number): Uint8Array {
  return encodeSectorSize(STRUCTURE, "logicalSectorSize", logicalSectorSize);
}

/** Rules: SECTOR_SIZE. */
export function validateLogicalSectorSize(logicalSectorSize: number): Violation[] {
  return validateSectorSize("logicalSectorSize", logicalSectorSize);
}
