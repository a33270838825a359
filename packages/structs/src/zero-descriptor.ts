// MS-VHDX 2.3.1.2 Zero Descriptor: 32 bytes in a log entry's descriptor sectors.
//
// | offset | size | field          | rule                                |
// |--------|------|----------------|-------------------------------------|
// | 0      | 4    | signature      | "zero"                              |
// | 4      | 4    | reserved       | zero                                |
// | 8      | 8    | zeroLength     | multiple of 4 KiB                   |
// | 16     | 8    | fileOffset     | multiple of 4 KiB                   |
// | 24     | 8    | sequenceNumber | the entry header's sequence number  |
import { LOG_SECTOR_SIZE, ZERO_DESCRIPTOR_SIGNATURE } from "./constants.js";
import { Reader, Writer } from "./internal/bytes.js";
import { checkAlignment, checkReserved, checkSequence, checkSignature } from "./internal/rules.js";
import type { Violation } from "./violation.js";

export const ZERO_DESCRIPTOR_SIZE = 32;
const STRUCTURE = "zero descriptor";

export interface ZeroDescriptor {
  signature: string;
  reserved: number;
  zeroLength: number;
  fileOffset: number;
  sequenceNumber: bigint;
}

export type ZeroDescriptorInit = Omit<ZeroDescriptor, "signature" | "reserved"> &
  Partial<Pick<ZeroDescriptor, "signature" | "reserved">>;

export interface LogDescriptorContext {
  /** SequenceNumber of the entry header the descriptor belongs to. */
  sequenceNumber?: bigint;
}

export function decodeZeroDescriptor(bytes: Uint8Array, offset = 0, fileOffset?: number): ZeroDescriptor {
  const r = new Reader(STRUCTURE, bytes, offset, ZERO_DESCRIPTOR_SIZE, fileOffset);
  return {
    signature: r.ascii(0, 4),
    reserved: r.u32(4),
    zeroLength: r.u64(8, "zeroLength"),
    fileOffset: r.u64(16, "fileOffset"),
    sequenceNumber: r.bigU64(24),
  };
}

export function encodeZeroDescriptor(value: ZeroDescriptorInit): Uint8Array {
  const w = new Writer(STRUCTURE, ZERO_DESCRIPTOR_SIZE);
  w.ascii(0, value.signature ?? ZERO_DESCRIPTOR_SIGNATURE, 4, "signature");
  w.u32(4, value.reserved ?? 0, "reserved");
  w.u64(8, value.zeroLength, "zeroLength");
  w.u64(16, value.fileOffset, "fileOffset");
  w.bigU64(24, value.sequenceNumber, "sequenceNumber");
  return w.bytes;
}

/** Rules: SIGNATURE, RESERVED, ALIGNMENT (zero length, file offset), SEQUENCE_MISMATCH (with `context.sequenceNumber`). */
export function validateZeroDescriptor(value: ZeroDescriptor, context: LogDescriptorContext = {}): Violation[] {
  const out: Violation[] = [];
  checkSignature(out, value.signature, ZERO_DESCRIPTOR_SIGNATURE);
  checkReserved(out, "reserved", value.reserved === 0);
  checkAlignment(out, "zeroLength", value.zeroLength, LOG_SECTOR_SIZE, "4 KiB");
  checkAlignment(out, "fileOffset", value.fileOffset, LOG_SECTOR_SIZE, "4 KiB");
  checkSequence(out, value.sequenceNumber, context.sequenceNumber);
  return out;
}
