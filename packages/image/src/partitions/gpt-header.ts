// GPT header (UEFI 2.10, 5.3.2): the primary at LBA 1, the backup at the last
// LBA of the disk. Every field is little-endian; the rest of the sector is
// reserved.
//
// | offset | size | field              | rule                                              |
// |--------|------|--------------------|---------------------------------------------------|
// | 0      | 8    | signature          | "EFI PART"                                        |
// | 8      | 4    | revision           | 0x00010000 (1.0); another is only noted           |
// | 12     | 4    | headerSize         | 92 to the logical sector size                     |
// | 16     | 4    | headerCrc32        | CRC-32 of headerSize bytes, this field as zero    |
// | 20     | 4    | reserved           | ignored                                           |
// | 24     | 8    | myLba              | the LBA the header was read from                  |
// | 32     | 8    | alternateLba       | where the other header is                         |
// | 40     | 8    | firstUsableLba     | not after lastUsableLba + 1                       |
// | 48     | 8    | lastUsableLba      |                                                   |
// | 56     | 16   | diskGuid           | GUID, mixed-endian like VHDX                      |
// | 72     | 8    | entryArrayLba      | the entry array lies inside the disk, past LBA 1  |
// | 80     | 4    | entryCount         | entryCount * entrySize at most 1 MiB (our bound)  |
// | 84     | 4    | entrySize          | 128 * 2^n                                         |
// | 88     | 4    | entryArrayCrc32    | CRC-32 of entryCount * entrySize bytes            |
import { guidFromBytes } from "@vhdx/guid";
import { VhdxError } from "@vhdx/structs";
import { crc32 } from "./crc32.js";

export const GPT_SIGNATURE = "EFI PART";
const MIN_GPT_HEADER_SIZE = 92;
const HEADER_CRC_OFFSET = 16;
/** The largest entry array read (UEFI sets no bound; 128 entries of 128 bytes is the norm). */
export const MAX_ENTRY_ARRAY_BYTES = 1 << 20;

export interface GptHeader {
  signature: string;
  revision: number;
  headerSize: number;
  headerCrc32: number;
  myLba: bigint;
  alternateLba: bigint;
  firstUsableLba: bigint;
  lastUsableLba: bigint;
  diskGuid: string;
  entryArrayLba: bigint;
  entryCount: number;
  entrySize: number;
  entryArrayCrc32: number;
  /** CRC-32 of the header as read, for the check against headerCrc32; null when headerSize is out of bounds. */
  computedCrc32: number | null;
}

/** Where the header was read, for the checks that depend on it. */
export interface GptHeaderPlace {
  lba: bigint;
  sectorSize: number;
  sectorCount: bigint;
}

/** Decodes the header at `bytes[offset..]`, which must hold one whole logical sector. */
export function decodeGptHeader(bytes: Uint8Array, offset: number, sectorSize: number, fileOffset?: number): GptHeader {
  if (offset < 0 || bytes.length - offset < sectorSize || sectorSize < MIN_GPT_HEADER_SIZE) {
    throw new VhdxError("TRUNCATED", `needs a ${sectorSize}-byte sector, got ${Math.max(0, bytes.length - offset)}`, {
      structure: "GPT header",
      ...(fileOffset === undefined ? {} : { offset: fileOffset }),
    });
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, sectorSize);
  const headerSize = view.getUint32(12, true);
  return {
    signature: String.fromCharCode(...bytes.subarray(offset, offset + 8)),
    revision: view.getUint32(8, true),
    headerSize,
    headerCrc32: view.getUint32(HEADER_CRC_OFFSET, true),
    myLba: view.getBigUint64(24, true),
    alternateLba: view.getBigUint64(32, true),
    firstUsableLba: view.getBigUint64(40, true),
    lastUsableLba: view.getBigUint64(48, true),
    diskGuid: guidFromBytes(bytes, offset + 56),
    entryArrayLba: view.getBigUint64(72, true),
    entryCount: view.getUint32(80, true),
    entrySize: view.getUint32(84, true),
    entryArrayCrc32: view.getUint32(88, true),
    computedCrc32:
      headerSize >= MIN_GPT_HEADER_SIZE && headerSize <= sectorSize
        ? headerCrc(bytes.subarray(offset, offset + headerSize))
        : null,
  };
}

function headerCrc(header: Uint8Array): number {
  const copy = header.slice();
  copy.fill(0, HEADER_CRC_OFFSET, HEADER_CRC_OFFSET + 4);
  return crc32(copy);
}

/** Bytes of the entry array the header describes (bounded by validateGptHeader). */
export function entryArrayBytes(header: GptHeader): number {
  return header.entryCount * header.entrySize;
}

/** Logical sectors the entry array fills. */
export function entryArraySectors(header: GptHeader, sectorSize: number): number {
  return Math.ceil(entryArrayBytes(header) / sectorSize);
}

/**
 * Why this header cannot be used, one sentence per broken rule; empty when it
 * can. A wrong signature or size stops the checks: nothing else in it means anything.
 */
export function validateGptHeader(header: GptHeader, place: GptHeaderPlace): string[] {
  if (header.signature !== GPT_SIGNATURE) {
    return [`its signature is ${JSON.stringify(header.signature)}, expected "${GPT_SIGNATURE}"`];
  }
  if (header.computedCrc32 === null) {
    return [`its header size is ${header.headerSize}, expected ${MIN_GPT_HEADER_SIZE} to ${place.sectorSize}`];
  }
  const problems: string[] = [];
  if (header.computedCrc32 !== header.headerCrc32) {
    problems.push(`its CRC-32 is ${hex32(header.headerCrc32)} but its bytes give ${hex32(header.computedCrc32)}`);
  }
  if (header.myLba !== place.lba) {
    problems.push(`it says it is at LBA ${header.myLba} but lies at LBA ${place.lba}`);
  }
  if (header.firstUsableLba > header.lastUsableLba + 1n) {
    problems.push(`its first usable LBA ${header.firstUsableLba} is past its last usable LBA ${header.lastUsableLba}`);
  }
  problems.push(...entryArrayProblems(header, place));
  return problems;
}

function entryArrayProblems(header: GptHeader, place: GptHeaderPlace): string[] {
  const { entryCount, entrySize } = header;
  if (entrySize < 128 || entrySize % 128 !== 0 || ((entrySize / 128) & (entrySize / 128 - 1)) !== 0) {
    return [`its partition entry size is ${entrySize}, expected 128 times a power of two`];
  }
  if (entryCount * entrySize > MAX_ENTRY_ARRAY_BYTES) {
    return [
      `its partition entry array would be ${entryCount} x ${entrySize} bytes, more than the ${MAX_ENTRY_ARRAY_BYTES} bytes read`,
    ];
  }
  const first = header.entryArrayLba;
  const end = first + BigInt(entryArraySectors(header, place.sectorSize));
  if (first < 2n || end > place.sectorCount) {
    return [
      `its partition entry array (LBA ${first} to ${end - 1n}) lies outside the disk's LBAs 2 to ${place.sectorCount - 1n}`,
    ];
  }
  if (first <= place.lba && place.lba < end) {
    return [`its partition entry array (LBA ${first} to ${end - 1n}) covers the header itself`];
  }
  return [];
}

export function hex32(value: number): string {
  return `0x${value.toString(16).padStart(8, "0")}`;
}
