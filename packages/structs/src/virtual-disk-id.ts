// MS-VHDX 2.6.2.3 Virtual Disk ID metadata item (BECA12AB-B2E6-4523-93EF-C309E000C746).
//
// | offset | size | field         | rule                                     |
// |--------|------|---------------|------------------------------------------|
// | 0      | 16   | virtualDiskId | GUID identifying the disk (SCSI page 83) |
import { Reader, Writer } from "./internal/bytes.js";

export const VIRTUAL_DISK_ID_SIZE = 16;
const STRUCTURE = "virtual disk id";

/** The GUID, lower case. */
export function decodeVirtualDiskId(bytes: Uint8Array, offset = 0, fileOffset?: number): string {
  return new Reader(STRUCTURE, bytes, offset, VIRTUAL_DISK_ID_SIZE, fileOffset).guid(0);
}

export function encodeVirtualDiskId(virtualDiskId: string): Uint8Array {
  const w = new Writer(STRUCTURE, VIRTUAL_DISK_ID_SIZE);
  w.guid(0, virtualDiskId, "virtualDiskId");
  return w.bytes;
}
