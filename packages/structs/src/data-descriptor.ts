// MS-VHDX 2.3.1.3 Data Descriptor: 32 bytes in a log entry's descriptor
// sectors, one per data sector, describing one 4 KiB update.
//
// | offset | size | field          | rule                                     |
// |--------|------|----------------|------------------------------------------|
// | 0      | 4    | signature      | "desc"                                   |
// | 4      | 4    | trailingBytes  | bytes 4092-4095 of the update            |
// | 8      | 8    | leadingBytes   | bytes 0-7 of the update                  |
// | 16     | 8    | fileOffset     | where the update goes; multiple of 4 KiB |
// | 24     | 8    | sequenceNumber | the entry header's sequence number       |
import { DATA_DESCRIPTOR_SIGNATURE, LOG_SECTOR_SIZE } from "./constants.js";
import { Reader, Writer } from "./internal/bytes.js";
import { checkAlignment, checkSequence, checkSignature } from "./internal/rules.js";
import type { Violation } from "./violation.js";
import type { LogDescriptorContext } from "./zero-descriptor.js";

export const DATA_DESCRIPTOR_SIZE = 32;
const STRUCTURE = "data descriptor";

export interface DataDescriptor {
  signature: string;
  /** 4 bytes. */
  trailingBytes: Uint8Array;
  /** 8 bytes. */
  leadingBytes: Uint8Array;
  fileOffset: number;
  sequenceNumber: bigint;
}

export type DataDescriptorInit = Omit<DataDescriptor, "signature"> & Partial<Pick<DataDescriptor, "signature">>;

export function decodeDataDescriptor(bytes: Uint8Array, offset = 0, fileOffset?: number): DataDescriptor {
  const r = new Reader(STRUCTURE, bytes, offset, DATA_DESCRIPTOR_SIZE, fileOffset);
  return {
    signature: r.ascii(0, 4),
    trailingBytes: r.copy(4, 4),
    leadingBytes: r.copy(8, 8),
    fileOffset: r.u64(16, "fileOffset"),
    sequenceNumber: r.bigU64(24),
  };
}

export function encodeDataDescriptor(value: DataDescriptorInit): Uint8Array {
  const w = new Writer(STRUCTURE, DATA_DESCRIPTOR_SIZE);
  w.ascii(0, value.signature ?? DATA_DESCRIPTOR_SIGNATURE, 4, "signature");
  w.exact(4, value.trailingBytes, 4, "trailingBytes");
  w.exact(8, value.leadingBytes, 8, "leadingBytes");
  w.u64(16, value.fileOffset, "fileOffset");
  w.bigU64(24, value.sequenceNumber, "sequenceNumber");
  return w.bytes;
}

/** Rules: SIGNATURE, ALIGNMENT (file offset), SEQUENCE_MISMATCH (with `context.sequenceNumber`). */
export function validateDataDescriptor(value: DataDescriptor, context: LogDescriptorContext = {}): Violation[] {
  const out: Violation[] = [];
  checkSignature(out, value.signature, DATA_DESCRIPTOR_SIGNATURE);
  checkAlignment(out, "fileOffset", value.fileOffset, LOG_SECTOR_SIZE, "4 KiB");
  checkSequence(out, value.sequenceNumber, context.sequenceNumber);
  return out;
}
