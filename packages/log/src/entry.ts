// MS-VHDX 2.3.1 Log Entry: one entry read out of the ring and checked against
// every rule of 2.3.1.1 to 2.3.1.4. An entry that breaks a rule is not valid;
// the search (sequence.ts) then ignores it, as 2.3.3 asks.
//
// | part, in ring order        | where                                      | rules                                   |
// |----------------------------|--------------------------------------------|-----------------------------------------|
// | entry header (2.3.1.1)     | bytes 0-63 of the first sector             | ENTRY_SIGNATURE, FIELD_RANGE, ENTRY_LENGTH, TAIL, SEQUENCE_NUMBER, DESCRIPTOR_COUNT, RESERVED, LOG_GUID, FILE_OFFSET_ALIGNMENT |
// | descriptors (2.3.1.2, .3)  | 32 bytes each from byte 64, in ceil((count + 2) / 128) sectors | DESCRIPTOR_SIGNATURE, DESCRIPTOR_RESERVED, DESCRIPTOR_ALIGNMENT, DESCRIPTOR_SEQUENCE, FIELD_RANGE |
// | data sectors (2.3.1.4)     | 4 KiB each after the descriptor sectors, one per data descriptor, in order | DATA_SECTOR_COUNT, DATA_SECTOR_SIGNATURE, DATA_SECTOR_SEQUENCE |
// | the whole entry            | EntryLength bytes, wrapping at the ring's end | CHECKSUM                              |
import { crc32c } from "@vhdx/crc32c";
import { isNilGuid } from "@vhdx/guid";
import {
  DATA_DESCRIPTOR_SIGNATURE,
  DATA_SECTOR_SIGNATURE,
  decodeDataDescriptor,
  decodeDataSector,
  decodeLogEntryHeader,
  decodeZeroDescriptor,
  descriptorSectorCount,
  joinLogUpdate,
  LOG_DESCRIPTOR_SIZE,
  LOG_ENTRY_HEADER_SIZE,
  LOG_ENTRY_SIGNATURE,
  LOG_SECTOR_SIZE,
  type LogEntryHeader,
  validateDataDescriptor,
  validateLogEntryHeader,
  validateZeroDescriptor,
  type Violation,
  VhdxError,
  ZERO_DESCRIPTOR_SIGNATURE,
} from "@vhdx/structs";
import { checkLogGuid, checkRing, checkRingOffset, hasSignature, hex, signatureHex } from "./ring.js";

export interface LogEntry {
  /** Ring offset of the entry's first sector. */
  offset: number;
  header: LogEntryHeader;
  /** In stored order. */
  descriptors: LogDescriptor[];
}

export type LogDescriptor =
  | { kind: "zero"; fileOffset: number; zeroLength: number; sequenceNumber: bigint }
  /** `data`: the whole 4096-byte update, leading bytes, data sector payload and trailing bytes joined. */
  | { kind: "data"; fileOffset: number; data: Uint8Array; sequenceNumber: bigint };

/** `rule` names the broken rule (see the README's table); `reason` says what is wrong. */
export type EntryCheck = { ok: true; entry: LogEntry } | { ok: false; reason: string; rule: string };

type Failure = { ok: false; reason: string; rule: string };
export type HeaderCheck = { ok: true; header: LogEntryHeader } | Failure;

const CHECKSUM_OFFSET = 4;
const ZERO_CHECKSUM = new Uint8Array(4);
const SEQUENCE_LOW_OFFSET = LOG_SECTOR_SIZE - 4;

/**
 * Reads and checks the entry at ring offset `offset` (4 KiB-aligned). Never
 * throws on bad bytes: every count and length is bounded by the ring before
 * use, and a broken rule comes back as `{ ok: false, rule, reason }`.
 * `logGuid` is the header's LogGuid; when it is nil the log is empty and no
 * entry is valid.
 */
export function readLogEntry(ring: Uint8Array, offset: number, logGuid: string): EntryCheck {
  checkRing(ring, "readLogEntry");
  checkRingOffset(offset, ring.length, "readLogEntry");
  const guid = checkLogGuid(logGuid, "readLogEntry");
  const checked = checkEntry(ring, offset, guid);
  return checked.ok ? { ok: true, entry: buildEntry(ring, offset, checked.header) } : checked;
}

/**
 * Every rule of one entry, copying nothing: the search calls this once per
 * sector. Arguments are already checked and `guid` is lower case.
 */
export function checkEntry(ring: Uint8Array, offset: number, guid: string): HeaderCheck {
  if (!hasSignature(ring, offset, LOG_ENTRY_SIGNATURE)) {
    return fail("ENTRY_SIGNATURE", `signature is ${signatureHex(ring, offset)}, expected "${LOG_ENTRY_SIGNATURE}"`);
  }
  if (isNilGuid(guid)) return fail("LOG_GUID", "the header's LogGuid is nil: the log is empty and no entry is valid");
  const decoded = attempt(() => decodeLogEntryHeader(ring, offset));
  if (!decoded.ok) return decoded;
  const header = decoded.value;
  const violations = validateLogEntryHeader(header, { logLength: ring.length, logGuid: guid });
  if (violations.length > 0) return fromHeaderViolation(violations[0]!);

  const descriptors = checkDescriptors(ring, offset, header);
  if (typeof descriptors !== "number") return descriptors;
  const sectors = descriptorSectorCount(header.descriptorCount) + descriptors;
  if (sectors * LOG_SECTOR_SIZE !== header.entryLength) {
    const reason = `entry length ${header.entryLength} is not the ${sectors} sectors its descriptors need (${sectors * LOG_SECTOR_SIZE} bytes)`;
    return fail("DATA_SECTOR_COUNT", reason);
  }
  const sectorProblem = checkDataSectors(ring, offset, header, descriptors);
  if (sectorProblem !== undefined) return sectorProblem;

  const computed = entryChecksum(ring, offset, header.entryLength);
  if (computed !== header.checksum) {
    return fail(
      "CHECKSUM",
      `checksum is 0x${hex8(header.checksum)}, the entry's ${header.entryLength} bytes give 0x${hex8(computed)}`,
    );
  }
  return { ok: true, header };
}

/** The number of data descriptors, or the first broken rule. */
function checkDescriptors(ring: Uint8Array, offset: number, header: LogEntryHeader): number | Failure {
  const context = { sequenceNumber: header.sequenceNumber };
  let data = 0;
  for (let k = 0; k < header.descriptorCount; k++) {
    const at = descriptorPosition(ring.length, offset, k);
    const where = `descriptor ${k} (ring offset ${hex(at)})`;
    let violations: Violation[];
    let end: number;
    if (hasSignature(ring, at, DATA_DESCRIPTOR_SIGNATURE)) {
      const decoded = attempt(() => decodeDataDescriptor(ring, at), where);
      if (!decoded.ok) return decoded;
      violations = validateDataDescriptor(decoded.value, context);
      end = decoded.value.fileOffset + LOG_SECTOR_SIZE;
      data++;
    } else if (hasSignature(ring, at, ZERO_DESCRIPTOR_SIGNATURE)) {
      const decoded = attempt(() => decodeZeroDescriptor(ring, at), where);
      if (!decoded.ok) return decoded;
      violations = validateZeroDescriptor(decoded.value, context);
      end = decoded.value.fileOffset + decoded.value.zeroLength;
    } else {
      const reason = `${where}: signature is ${signatureHex(ring, at)}, expected "${DATA_DESCRIPTOR_SIGNATURE}" or "${ZERO_DESCRIPTOR_SIGNATURE}"`;
      return fail("DESCRIPTOR_SIGNATURE", reason);
    }
    const first = violations[0];
    if (first !== undefined)
      return fail(DESCRIPTOR_RULES[first.rule] ?? `DESCRIPTOR_${first.rule}`, `${where}: ${first.message}`);
    if (end > Number.MAX_SAFE_INTEGER) return fail("FIELD_RANGE", `${where}: it ends past 2^53 - 1`);
  }
  return data;
}

function checkDataSectors(
  ring: Uint8Array,
  offset: number,
  header: LogEntryHeader,
  count: number,
): Failure | undefined {
  const view = new DataView(ring.buffer, ring.byteOffset, ring.byteLength);
  const first = descriptorSectorCount(header.descriptorCount);
  for (let j = 0; j < count; j++) {
    const at = (offset + (first + j) * LOG_SECTOR_SIZE) % ring.length;
    const where = `data sector ${j} (ring offset ${hex(at)})`;
    if (!hasSignature(ring, at, DATA_SECTOR_SIGNATURE)) {
      return fail(
        "DATA_SECTOR_SIGNATURE",
        `${where}: signature is ${signatureHex(ring, at)}, expected "${DATA_SECTOR_SIGNATURE}"`,
      );
    }
    const high = view.getUint32(at + 4, true);
    const low = view.getUint32(at + SEQUENCE_LOW_OFFSET, true);
    const sequence = (BigInt(high) << 32n) | BigInt(low);
    if (sequence !== header.sequenceNumber) {
      const reason = `${where}: sequence number ${sequence} (high and low halves), the entry's is ${header.sequenceNumber}`;
      return fail("DATA_SECTOR_SEQUENCE", reason);
    }
  }
  return undefined;
}

/** Decodes the descriptors and joins each data update; only for an entry checkEntry accepted. */
export function buildEntry(ring: Uint8Array, offset: number, header: LogEntryHeader): LogEntry {
  const descriptors: LogDescriptor[] = [];
  let sector = (offset + descriptorSectorCount(header.descriptorCount) * LOG_SECTOR_SIZE) % ring.length;
  for (let k = 0; k < header.descriptorCount; k++) {
    const at = descriptorPosition(ring.length, offset, k);
    if (hasSignature(ring, at, ZERO_DESCRIPTOR_SIGNATURE)) {
      const { fileOffset, zeroLength, sequenceNumber } = decodeZeroDescriptor(ring, at);
      descriptors.push({ kind: "zero", fileOffset, zeroLength, sequenceNumber });
    } else {
      const descriptor = decodeDataDescriptor(ring, at);
      const data = joinLogUpdate(descriptor, decodeDataSector(ring, sector));
      descriptors.push({
        kind: "data",
        fileOffset: descriptor.fileOffset,
        data,
        sequenceNumber: descriptor.sequenceNumber,
      });
      sector = (sector + LOG_SECTOR_SIZE) % ring.length;
    }
  }
  return { offset, header, descriptors };
}

/**
 * CRC-32C of the `length` bytes from ring offset `offset`, wrapping at the
 * ring's end, with the checksum field taken as zero. Copies nothing.
 */
function entryChecksum(ring: Uint8Array, offset: number, length: number): number {
  const first = Math.min(length, ring.length - offset);
  let crc = crc32c(ring.subarray(offset, offset + CHECKSUM_OFFSET));
  crc = crc32c(ZERO_CHECKSUM, crc);
  crc = crc32c(ring.subarray(offset + CHECKSUM_OFFSET + 4, offset + first), crc);
  if (first < length) crc = crc32c(ring.subarray(0, length - first), crc);
  return crc;
}

/** Descriptor `k` sits at entry byte 64 + 32k: 126 in the first sector, 128 in each further one. */
function descriptorPosition(ringLength: number, offset: number, k: number): number {
  return (offset + LOG_ENTRY_HEADER_SIZE + k * LOG_DESCRIPTOR_SIZE) % ringLength;
}

/** The rules of the header validator, named for this package's table. */
function fromHeaderViolation(v: Violation): Failure {
  if (v.rule === "SIGNATURE") return fail("ENTRY_SIGNATURE", v.message);
  if (v.rule === "ALIGNMENT") return fail(v.field === "tail" ? "TAIL" : "FILE_OFFSET_ALIGNMENT", v.message);
  return fail(v.rule, v.message);
}

const DESCRIPTOR_RULES: Record<string, string> = {
  RESERVED: "DESCRIPTOR_RESERVED",
  ALIGNMENT: "DESCRIPTOR_ALIGNMENT",
  SEQUENCE_MISMATCH: "DESCRIPTOR_SEQUENCE",
};

/** A decoder's result, or FIELD_RANGE when a u64 does not fit a safe integer. */
function attempt<T>(decode: () => T, where?: string): { ok: true; value: T } | Failure {
  try {
    return { ok: true, value: decode() };
  } catch (error) {
    if (!VhdxError.isInstance(error)) throw error;
    return fail("FIELD_RANGE", where === undefined ? error.detail : `${where}: ${error.detail}`);
  }
}

function fail(rule: string, reason: string): Failure {
  return { ok: false, rule, reason };
}

function hex8(value: number): string {
  return value.toString(16).padStart(8, "0");
}
