// Master boot record (MBR) at LBA 0, and the extended boot record (EBR) that
// starts each logical partition, which has the same layout. Whatever the
// logical sector size, the record fills the first 512 bytes of its sector.
//
// | offset | size | field           | rule                                        |
// |--------|------|-----------------|---------------------------------------------|
// | 0      | 440  | bootstrap code  | ignored                                     |
// | 440    | 4    | disk signature  | u32, shown as the MBR disk id               |
// | 444    | 2    | reserved        | ignored                                     |
// | 446    | 64   | entries[4]      | 16 bytes each, below                        |
// | 510    | 2    | boot signature  | 0x55 0xAA, else there is no MBR             |
//
// Partition entry:
//
// | offset | size | field        | rule                                                    |
// |--------|------|--------------|---------------------------------------------------------|
// | 0      | 1    | status       | 0x80 bootable, 0x00 not; anything else: not an MBR      |
// | 1      | 3    | first CHS    | ignored: the LBA fields are used                        |
// | 4      | 1    | type         | 0x00 unused; 0x05/0x0F/0x85 extended; 0xEE GPT protective |
// | 5      | 3    | last CHS     | ignored                                                 |
// | 8      | 4    | first LBA    | u32; MBR: from LBA 0; EBR: see read-mbr.ts              |
// | 12     | 4    | sector count | u32; 0 means unused                                     |
import { VhdxError } from "@vhdx/structs";

const MBR_SIZE = 512;
const ENTRIES_OFFSET = 446;
const ENTRY_SIZE = 16;
const BOOT_SIGNATURE_OFFSET = 510;

export const PROTECTIVE_MBR_TYPE = 0xee;
const EXTENDED_TYPES = new Set([0x05, 0x0f, 0x85]);

export interface MbrEntry {
  /** 0 to 3: the entry's place in the record. */
  slot: number;
  status: number;
  type: number;
  firstLba: number;
  sectorCount: number;
}

export interface Mbr {
  /** True when the record ends in 0x55 0xAA. */
  hasBootSignature: boolean;
  diskSignature: number;
  /** All four entries, unused ones included. */
  entries: MbrEntry[];
}

export function decodeMbr(bytes: Uint8Array, offset = 0, fileOffset?: number): Mbr {
  if (offset < 0 || bytes.length - offset < MBR_SIZE) {
    throw new VhdxError("TRUNCATED", `needs ${MBR_SIZE} bytes, got ${Math.max(0, bytes.length - offset)}`, {
      structure: "MBR",
      ...(fileOffset === undefined ? {} : { offset: fileOffset }),
    });
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, MBR_SIZE);
  const entries: MbrEntry[] = [];
  for (let slot = 0; slot < 4; slot++) {
    const at = ENTRIES_OFFSET + slot * ENTRY_SIZE;
    entries.push({
      slot,
      status: view.getUint8(at),
      type: view.getUint8(at + 4),
      firstLba: view.getUint32(at + 8, true),
      sectorCount: view.getUint32(at + 12, true),
    });
  }
  return {
    hasBootSignature: view.getUint16(BOOT_SIGNATURE_OFFSET, true) === 0xaa55,
    diskSignature: view.getUint32(440, true),
    entries,
  };
}

/** An entry that describes nothing: type 0 or no sectors. */
export function isUnusedEntry(entry: MbrEntry): boolean {
  return entry.type === 0 || entry.sectorCount === 0;
}

export function isExtendedType(type: number): boolean {
  return EXTENDED_TYPES.has(type);
}

/** The first entry whose status byte is neither 0x00 nor 0x80, or undefined. */
export function invalidStatusEntry(mbr: Mbr): MbrEntry | undefined {
  return mbr.entries.find((entry) => entry.status !== 0 && entry.status !== 0x80);
}

/** `0x07`: a type byte the way fdisk and sfdisk print it. */
export function mbrTypeText(type: number): string {
  return `0x${type.toString(16).padStart(2, "0")}`;
}
