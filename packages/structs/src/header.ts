// MS-VHDX 2.2.2 Headers: two copies, at 64 KiB and 128 KiB, each a 4 KiB
// structure in a 64 KiB slot. The current one is the valid one with the larger
// sequence number.
//
// | offset | size | field          | rule                                               |
// |--------|------|----------------|----------------------------------------------------|
// | 0      | 4    | signature      | "head"                                             |
// | 4      | 4    | checksum       | CRC-32C over the 4096 bytes, this field as zero    |
// | 8      | 8    | sequenceNumber | u64                                                |
// | 16     | 16   | fileWriteGuid  | GUID                                               |
// | 32     | 16   | dataWriteGuid  | GUID                                               |
// | 48     | 16   | logGuid        | GUID; nil means no log to replay                   |
// | 64     | 2    | logVersion     | 0                                                  |
// | 66     | 2    | version        | 1                                                  |
// | 68     | 4    | logLength      | multiple of 1 MiB                                  |
// | 72     | 8    | logOffset      | multiple of 1 MiB, past the header section         |
// | 80     | 4016 | reserved       | zero                                               |
import { computeChecksum, verifyChecksum, writeChecksum } from "./checksum.js";
import { HEADER_SECTION_SIZE, HEADER_SIGNATURE, HEADER_SIZE, MiB } from "./constants.js";
import { Reader, Writer, isAllZero, requireBytes } from "./internal/bytes.js";
import { checkAlignment, checkChecksum, checkReserved, checkSignature, violation } from "./internal/rules.js";
import type { Violation } from "./violation.js";

const STRUCTURE = "header";
const CHECKSUM_OFFSET = 4;
const RESERVED_OFFSET = 80;
const RESERVED_SIZE = HEADER_SIZE - RESERVED_OFFSET;

export interface Header {
  signature: string;
  checksum: number;
  sequenceNumber: bigint;
  fileWriteGuid: string;
  dataWriteGuid: string;
  logGuid: string;
  logVersion: number;
  version: number;
  logLength: number;
  logOffset: number;
  /** The 4016 reserved bytes, kept for a lossless round trip. */
  reserved: Uint8Array;
}

/** What encodeHeader needs: signature, checksum and reserved are filled in when absent. */
export type HeaderInit = Omit<Header, "signature" | "checksum" | "reserved"> &
  Partial<Pick<Header, "signature" | "checksum" | "reserved">>;

export function decodeHeader(bytes: Uint8Array, offset = 0, fileOffset?: number): Header {
  const r = new Reader(STRUCTURE, bytes, offset, HEADER_SIZE, fileOffset);
  return {
    signature: r.ascii(0, 4),
    checksum: r.u32(4),
    sequenceNumber: r.bigU64(8),
    fileWriteGuid: r.guid(16),
    dataWriteGuid: r.guid(32),
    logGuid: r.guid(48),
    logVersion: r.u16(64),
    version: r.u16(66),
    logLength: r.u32(68),
    logOffset: r.u64(72, "logOffset"),
    reserved: r.copy(RESERVED_OFFSET, RESERVED_SIZE),
  };
}

/** The 4096 bytes, with the checksum computed (any `checksum` given is ignored). */
export function encodeHeader(value: HeaderInit): Uint8Array {
  const bytes = layOut(value);
  writeChecksum(bytes, CHECKSUM_OFFSET);
  return bytes;
}

/** CRC-32C of the 4 KiB header at `offset`, its checksum field taken as zero. */
export function computeHeaderChecksum(bytes: Uint8Array, offset = 0, fileOffset?: number): number {
  requireBytes(STRUCTURE, bytes, offset, HEADER_SIZE, fileOffset);
  return computeChecksum(bytes.subarray(offset, offset + HEADER_SIZE), CHECKSUM_OFFSET);
}

/** Whether the stored checksum of the 4 KiB header at `offset` is right. */
export function verifyHeaderChecksum(bytes: Uint8Array, offset = 0, fileOffset?: number): boolean {
  requireBytes(STRUCTURE, bytes, offset, HEADER_SIZE, fileOffset);
  return verifyChecksum(bytes.subarray(offset, offset + HEADER_SIZE), CHECKSUM_OFFSET);
}

/**
 * Rules: SIGNATURE, CHECKSUM, VERSION, LOG_VERSION, ALIGNMENT (log offset and
 * length), HEADER_SECTION (a log inside the first 1 MiB), RESERVED.
 * LOG_VERSION is fatal only while logGuid is not nil; the caller decides.
 */
export function validateHeader(value: Header): Violation[] {
  const out: Violation[] = [];
  checkSignature(out, value.signature, HEADER_SIGNATURE);
  checkChecksum(out, value.checksum, () => computeChecksum(layOut(value), CHECKSUM_OFFSET));
  if (value.version !== 1) {
    out.push(violation("VERSION", "BAD_VERSION", "version", `version is ${value.version}, expected 1`));
  }
  if (value.logVersion !== 0) {
    out.push(violation("LOG_VERSION", "BAD_VERSION", "logVersion", `log version is ${value.logVersion}, expected 0`));
  }
  checkAlignment(out, "logLength", value.logLength, MiB, "1 MiB");
  checkAlignment(out, "logOffset", value.logOffset, MiB, "1 MiB");
  if (value.logLength > 0 && value.logOffset < HEADER_SECTION_SIZE) {
    const message = `log offset ${value.logOffset} lies inside the 1 MiB header section`;
    out.push(violation("HEADER_SECTION", "BAD_FIELD", "logOffset", message));
  }
  checkReserved(out, "reserved", isAllZero(value.reserved));
  return out;
}

function layOut(value: HeaderInit): Uint8Array {
  const w = new Writer(STRUCTURE, HEADER_SIZE);
  w.ascii(0, value.signature ?? HEADER_SIGNATURE, 4, "signature");
  w.bigU64(8, value.sequenceNumber, "sequenceNumber");
  w.guid(16, value.fileWriteGuid, "fileWriteGuid");
  w.guid(32, value.dataWriteGuid, "dataWriteGuid");
  w.guid(48, value.logGuid, "logGuid");
  w.u16(64, value.logVersion, "logVersion");
  w.u16(66, value.version, "version");
  w.u32(68, value.logLength, "logLength");
  w.u64(72, value.logOffset, "logOffset");
  if (value.reserved !== undefined) w.exact(RESERVED_OFFSET, value.reserved, RESERVED_SIZE, "reserved");
  return w.bytes;
}
