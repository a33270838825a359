// MS-VHDX 2.6.2.5 Physical Sector Size metadata item (CDA348C7-445D-4471-9CC9-E9885251C556).
//
// | offset | size | field              | rule        |
// |--------|------|--------------------|-------------|
// | 0      | 4    | physicalSectorSize | 512 or 4096 |
import {
  SECTOR_SIZE_ITEM_SIZE,
  decodeSectorSize,
  encodeSectorSize,
  validateSectorSize,
} from "./internal/sector-size.js";
import type { Violation } from "./violation.js";

export const PHYSICAL_SECTOR_SIZE_SIZE = SECTOR_SIZE_ITEM_SIZE;
const STRUCTURE = "physical sector size";

export function decodePhysicalSectorSize(bytes: Uint8Array, offset = 0, fileOffset?: number): number {
  return decodeSectorSize(STRUCTURE, bytes, offset, fileOffset);
}

export function encodePhysicalSectorSize(physicalSectorSize: number): Uint8Array {
  return encodeSectorSize(STRUCTURE, "physicalSectorSize", physicalSectorSize);
}

/** Rules: SECTOR_SIZE. */
export function validatePhysicalSectorSize(physicalSectorSize: number): Violation[] {
  return validateSectorSize("physicalSectorSize", physicalSectorSize);
}
