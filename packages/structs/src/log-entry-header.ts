// MS-VHDX 2.3.1.1 Log Entry Header: the first 64 bytes of a log entry's first
// descriptor sector. Its checksum covers the whole entry, EntryLength bytes.
//
// | offset | size | field             | rule                                                  |
// |--------|------|-------------------|-------------------------------------------------------|
// | 0      | 4    | signature         | "loge"                                                |
// | 4      | 4    | checksum          | CRC-32C over the EntryLength bytes, this field as zero |
// | 8      | 4    | entryLength       | a nonzero multiple of 4 KiB                           |
// | 12     | 4    | tail              | offset in the log of the sequence's first entry; multiple of 4 KiB |
// | 16     | 8    | sequenceNumber    | nonzero                                               |
// | 24     | 4    | descriptorCount   | fits ceil((count + 2) / 128) descriptor sectors in the entry |
// | 28     | 4    | reserved          | zero                                                  |
// | 32     | 16   | logGuid           | the header's LogGuid                                  |
// | 48     | 8    | flushedFileOffset | multiple of 1 MiB                                     |
// | 56     | 8    | lastFileOffset    | multiple of 1 MiB                                     |
import { computeChecksum, readStoredChecksum } from "./checksum.js";
import { LOG_ENTRY_SIGNATURE, LOG_SECTOR_SIZE, MiB } from "./constants.js";
import { VhdxError } from "./errors.js";
import { Reader, Writer, requireBytes } from "./internal/bytes.js";
import { checkAlignment, checkReserved, checkSignature, violation } from "./internal/rules.js";
import type { Violation } from "./violation.js";

export const LOG_ENTRY_HEADER_SIZE = 64;
/** Size of a zero or data descriptor. */
export const LOG_DESCRIPTOR_SIZE = 32;
const STRUCTURE = "log entry header";
const CHECKSUM_OFFSET = 4;

export interface LogEntryHeader {
  signature: string;
  checksum: number;
  entryLength: number;
  tail: number;
  sequenceNumber: bigint;
  descriptorCount: number;
  reserved: number;
  logGuid: string;
  flushedFileOffset: number;
  lastFileOffset: number;
}

export type LogEntryHeaderInit = Omit<LogEntryHeader, "signature" | "checksum" | "reserved"> &
  Partial<Pick<LogEntryHeader, "signature" | "checksum" | "reserved">>;

export interface LogEntryHeaderContext {
  /** LogLength from the file header. */
  logLength?: number;
  /** LogGuid from the file header. */
  logGuid?: string;
}

export function decodeLogEntryHeader(bytes: Uint8Array, offset = 0, fileOffset?: number): LogEntryHeader {
  const r = new Reader(STRUCTURE, bytes, offset, LOG_ENTRY_HEADER_SIZE, fileOffset);
  return {
    signature: r.ascii(0, 4),
    checksum: r.u32(4),
    entryLength: r.u32(8),
    tail: r.u32(12),
    sequenceNumber: r.bigU64(16),
    descriptorCount: r.u32(24),
    reserved: r.u32(28),
    logGuid: r.guid(32),
    flushedFileOffset: r.u64(48, "flushedFileOffset"),
    lastFileOffset: r.u64(56, "lastFileOffset"),
  };
}

/** The 64 bytes with `checksum` as given: it covers the whole entry, see writeLogEntryChecksum. */
export function encodeLogEntryHeader(value: LogEntryHeaderInit): Uint8Array {
  const w = new Writer(STRUCTURE, LOG_ENTRY_HEADER_SIZE);
  w.ascii(0, value.signature ?? LOG_ENTRY_SIGNATURE, 4, "signature");
  w.u32(4, value.checksum ?? 0, "checksum");
  w.u32(8, value.entryLength, "entryLength");
  w.u32(12, value.tail, "tail");
  w.bigU64(16, value.sequenceNumber, "sequenceNumber");
  w.u32(24, value.descriptorCount, "descriptorCount");
  w.u32(28, value.reserved ?? 0, "reserved");
  w.guid(32, value.logGuid, "logGuid");
  w.u64(48, value.flushedFileOffset, "flushedFileOffset");
  w.u64(56, value.lastFileOffset, "lastFileOffset");
  return w.bytes;
}

/** 4 KiB descriptor sectors an entry with `descriptorCount` descriptors needs (126 fit in the first). */
export function descriptorSectorCount(descriptorCount: number): number {
  return Math.ceil((descriptorCount + 2) / (LOG_SECTOR_SIZE / LOG_DESCRIPTOR_SIZE));
}

/**
 * Checksum of the log entry starting at `entry[offset]`, over the EntryLength
 * bytes its header gives. TRUNCATED when fewer bytes are given; BAD_FIELD when
 * EntryLength is shorter than the header.
 */
export function computeLogEntryChecksum(entry: Uint8Array, offset = 0, fileOffset?: number): number {
  return computeChecksum(entryBytes(entry, offset, fileOffset), CHECKSUM_OFFSET);
}

/** Whether the stored checksum of the entry at `entry[offset]` is right; false when EntryLength is too small. */
export function verifyLogEntryChecksum(entry: Uint8Array, offset = 0, fileOffset?: number): boolean {
  const length = new Reader(STRUCTURE, entry, offset, LOG_ENTRY_HEADER_SIZE, fileOffset).u32(8);
  if (length < LOG_ENTRY_HEADER_SIZE) return false;
  const bytes = entryBytes(entry, offset, fileOffset);
  return computeChecksum(bytes, CHECKSUM_OFFSET) === readStoredChecksum(bytes, CHECKSUM_OFFSET);
}

/** Computes the entry's checksum and stores it in its header, in place. Returns it. */
export function writeLogEntryChecksum(entry: Uint8Array, offset = 0, fileOffset?: number): number {
  const bytes = entryBytes(entry, offset, fileOffset);
  const checksum = computeChecksum(bytes, CHECKSUM_OFFSET);
  new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).setUint32(CHECKSUM_OFFSET, checksum, true);
  return checksum;
}

/**
 * Rules: SIGNATURE, ENTRY_LENGTH, ALIGNMENT (tail, flushed and last file
 * offsets), TAIL (outside the log), SEQUENCE_NUMBER, DESCRIPTOR_COUNT, RESERVED,
 * LOG_GUID (with `context.logGuid`). The checksum needs the whole entry: see
 * verifyLogEntryChecksum.
 */
export function validateLogEntryHeader(value: LogEntryHeader, context: LogEntryHeaderContext = {}): Violation[] {
  const out: Violation[] = [];
  checkSignature(out, value.signature, LOG_ENTRY_SIGNATURE);
  checkLengths(out, value, context);
  if (value.sequenceNumber === 0n) {
    out.push(violation("SEQUENCE_NUMBER", "BAD_FIELD", "sequenceNumber", "sequence number is 0"));
  }
  checkReserved(out, "reserved", value.reserved === 0);
  if (context.logGuid !== undefined && context.logGuid.toLowerCase() !== value.logGuid.toLowerCase()) {
    const message = `log GUID ${value.logGuid} is not the header's ${context.logGuid.toLowerCase()}`;
    out.push(violation("LOG_GUID", "BAD_FIELD", "logGuid", message));
  }
  checkAlignment(out, "flushedFileOffset", value.flushedFileOffset, MiB, "1 MiB");
  checkAlignment(out, "lastFileOffset", value.lastFileOffset, MiB, "1 MiB");
  return out;
}

function checkLengths(out: Violation[], value: LogEntryHeader, context: LogEntryHeaderContext): void {
  const { entryLength, tail, descriptorCount } = value;
  if (entryLength === 0 || entryLength % LOG_SECTOR_SIZE !== 0) {
    const message = `entry length ${entryLength} is not a nonzero multiple of 4 KiB`;
    out.push(violation("ENTRY_LENGTH", "BAD_FIELD", "entryLength", message));
  } else if (context.logLength !== undefined && entryLength > context.logLength) {
    const message = `entry length ${entryLength} is longer than the ${context.logLength}-byte log`;
    out.push(violation("ENTRY_LENGTH", "BAD_FIELD", "entryLength", message));
  }
  checkAlignment(out, "tail", tail, LOG_SECTOR_SIZE, "4 KiB");
  if (context.logLength !== undefined && tail >= context.logLength) {
    out.push(violation("TAIL", "BAD_FIELD", "tail", `tail ${tail} lies outside the ${context.logLength}-byte log`));
  }
  // Sectors = descriptor sectors + one data sector per data descriptor (at most descriptorCount).
  const sectors = Math.floor(entryLength / LOG_SECTOR_SIZE);
  const descriptorSectors = descriptorSectorCount(descriptorCount);
  if (sectors < descriptorSectors || sectors > descriptorSectors + descriptorCount) {
    const most = descriptorSectors + descriptorCount;
    const message = `${descriptorCount} descriptors need ${descriptorSectors} to ${most} sectors, the entry has ${sectors}`;
    out.push(violation("DESCRIPTOR_COUNT", "BAD_FIELD", "descriptorCount", message));
  }
}

function entryBytes(entry: Uint8Array, offset: number, fileOffset: number | undefined): Uint8Array {
  const length = new Reader(STRUCTURE, entry, offset, LOG_ENTRY_HEADER_SIZE, fileOffset).u32(8);
  if (length < LOG_ENTRY_HEADER_SIZE) {
    const detail = `entry length ${length} is shorter than the ${LOG_ENTRY_HEADER_SIZE}-byte header`;
    throw new VhdxError("BAD_FIELD", detail, { structure: STRUCTURE, field: "entryLength", offset: fileOffset });
  }
  requireBytes("log entry", entry, offset, length, fileOffset);
  return entry.subarray(offset, offset + length);
}
