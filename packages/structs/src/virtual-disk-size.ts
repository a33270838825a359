// MS-VHDX 2.6.2.2 Virtual Disk Size metadata item (2FA54224-CD1B-4876-B211-5DBED83BF4B8).
//
// | offset | size | field           | rule                                                 |
// |--------|------|-----------------|------------------------------------------------------|
// | 0      | 8    | virtualDiskSize | bytes; a multiple of the logical sector size, at most 64 TiB |
import { MAX_VIRTUAL_DISK_SIZE } from "./constants.js";
import { Reader, Writer } from "./internal/bytes.js";
import { violation } from "./internal/rules.js";
import type { Violation } from "./violation.js";

export const VIRTUAL_DISK_SIZE_SIZE = 8;
const STRUCTURE = "virtual disk size";

export interface VirtualDiskSizeContext {
  /** The Logical Sector Size item, 512 or 4096. */
  logicalSectorSize?: number;
}

/** The size in bytes; OUT_OF_RANGE past 2^53 - 1. */
export function decodeVirtualDiskSize(bytes: Uint8Array, offset = 0, fileOffset?: number): number {
  return new Reader(STRUCTURE, bytes, offset, VIRTUAL_DISK_SIZE_SIZE, fileOffset).u64(0, "virtualDiskSize");
}

export function encodeVirtualDiskSize(virtualDiskSize: number): Uint8Array {
  const w = new Writer(STRUCTURE, VIRTUAL_DISK_SIZE_SIZE);
  w.u64(0, virtualDiskSize, "virtualDiskSize");
  return w.bytes;
}

/** Rules: DISK_SIZE_LIMIT, SECTOR_MULTIPLE (with `context.logicalSectorSize`). */
export function validateVirtualDiskSize(virtualDiskSize: number, context: VirtualDiskSizeContext = {}): Violation[] {
  const out: Violation[] = [];
  if (virtualDiskSize > MAX_VIRTUAL_DISK_SIZE) {
    const message = `virtual disk size ${virtualDiskSize} is over 64 TiB`;
    out.push(violation("DISK_SIZE_LIMIT", "BAD_FIELD", "virtualDiskSize", message));
  }
  const sector = context.logicalSectorSize;
  if (sector !== undefined && sector > 0 && virtualDiskSize % sector !== 0) {
    const message = `virtual disk size ${virtualDiskSize} is not a multiple of the ${sector}-byte logical sector`;
    out.push(violation("SECTOR_MULTIPLE", "BAD_FIELD", "virtualDiskSize", message));
  }
  return out;
}
