// MS-VHDX 2.3.1.4 Data Sector: 4 KiB in a log entry, after the descriptor
// sectors, one per data descriptor and in the same order. It carries bytes
// 8-4091 of a 4 KiB update; the descriptor carries the first 8 and last 4.
//
// | offset | size | field        | rule                                         |
// |--------|------|--------------|----------------------------------------------|
// | 0      | 4    | signature    | "data"                                       |
// | 4      | 4    | sequenceHigh | high 32 bits of the entry's sequence number  |
// | 8      | 4084 | data         | bytes 8-4091 of the update                   |
// | 4092   | 4    | sequenceLow  | low 32 bits of the entry's sequence number   |
import { DATA_DESCRIPTOR_SIGNATURE, DATA_SECTOR_SIGNATURE, LOG_SECTOR_SIZE } from "./constants.js";
import type { DataDescriptor } from "./data-descriptor.js";
import { Reader, Writer } from "./internal/bytes.js";
import { checkSequence, checkSignature } from "./internal/rules.js";
import type { Violation } from "./violation.js";
import type { LogDescriptorContext } from "./zero-descriptor.js";

export const DATA_SECTOR_SIZE = LOG_SECTOR_SIZE;
export const DATA_SECTOR_DATA_SIZE = 4084;
const STRUCTURE = "data sector";
const DATA_OFFSET = 8;
const SEQUENCE_LOW_OFFSET = 4092;

export interface DataSector {
  signature: string;
  sequenceHigh: number;
  /** 4084 bytes. */
  data: Uint8Array;
  sequenceLow: number;
}

export type DataSectorInit = Omit<DataSector, "signature"> & Partial<Pick<DataSector, "signature">>;

export function decodeDataSector(bytes: Uint8Array, offset = 0, fileOffset?: number): DataSector {
  const r = new Reader(STRUCTURE, bytes, offset, DATA_SECTOR_SIZE, fileOffset);
  return {
    signature: r.ascii(0, 4),
    sequenceHigh: r.u32(4),
    data: r.copy(DATA_OFFSET, DATA_SECTOR_DATA_SIZE),
    sequenceLow: r.u32(SEQUENCE_LOW_OFFSET),
  };
}

export function encodeDataSector(value: DataSectorInit): Uint8Array {
  const w = new Writer(STRUCTURE, DATA_SECTOR_SIZE);
  w.ascii(0, value.signature ?? DATA_SECTOR_SIGNATURE, 4, "signature");
  w.u32(4, value.sequenceHigh, "sequenceHigh");
  w.exact(DATA_OFFSET, value.data, DATA_SECTOR_DATA_SIZE, "data");
  w.u32(SEQUENCE_LOW_OFFSET, value.sequenceLow, "sequenceLow");
  return w.bytes;
}

/** The sequence number the sector carries, high and low halves joined. */
export function dataSectorSequenceNumber(sector: Pick<DataSector, "sequenceHigh" | "sequenceLow">): bigint {
  return (BigInt(sector.sequenceHigh) << 32n) | BigInt(sector.sequenceLow);
}

/** Rules: SIGNATURE, SEQUENCE_MISMATCH (with `context.sequenceNumber`). */
export function validateDataSector(value: DataSector, context: LogDescriptorContext = {}): Violation[] {
  const out: Violation[] = [];
  checkSignature(out, value.signature, DATA_SECTOR_SIGNATURE);
  checkSequence(out, dataSectorSequenceNumber(value), context.sequenceNumber, "sequenceHigh");
  return out;
}

/** The 4 KiB update a data descriptor and its data sector describe together. */
export function joinLogUpdate(
  descriptor: Pick<DataDescriptor, "leadingBytes" | "trailingBytes">,
  sector: Pick<DataSector, "data">,
): Uint8Array {
  const w = new Writer("log update", LOG_SECTOR_SIZE);
  w.exact(0, descriptor.leadingBytes, 8, "leadingBytes");
  w.exact(DATA_OFFSET, sector.data, DATA_SECTOR_DATA_SIZE, "data");
  w.exact(SEQUENCE_LOW_OFFSET, descriptor.trailingBytes, 4, "trailingBytes");
  return w.bytes;
}

/** Splits a 4 KiB update into its data descriptor and data sector. */
export function splitLogUpdate(
  update: Uint8Array,
  fileOffset: number,
  sequenceNumber: bigint,
): { descriptor: DataDescriptor; sector: DataSector } {
  const r = new Reader("log update", update, 0, LOG_SECTOR_SIZE, undefined);
  return {
    descriptor: {
      signature: DATA_DESCRIPTOR_SIGNATURE,
      trailingBytes: r.copy(SEQUENCE_LOW_OFFSET, 4),
      leadingBytes: r.copy(0, 8),
      fileOffset,
      sequenceNumber,
    },
    sector: {
      signature: DATA_SECTOR_SIGNATURE,
      sequenceHigh: Number(BigInt.asUintN(64, sequenceNumber) >> 32n),
      data: r.copy(DATA_OFFSET, DATA_SECTOR_DATA_SIZE),
      sequenceLow: Number(BigInt.asUintN(32, sequenceNumber)),
    },
  };
}
