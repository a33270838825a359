// Shared by the tests: error matching, a replayable random source, and a log
// entry generator written the slow, obvious way from MS-VHDX 2.3.1, sharing no
// code with src/ (it places descriptors by slot and sector, not by offset).
import {
  computeChecksum,
  encodeDataDescriptor,
  encodeDataSector,
  encodeLogEntryHeader,
  encodeZeroDescriptor,
  splitLogUpdate,
  VhdxError,
} from "@vhdx/structs";
import { expect } from "vitest";

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const SECTOR = 4096;
export const GUID = "6c6f6765-0000-4000-8000-000000000001";
export const OTHER_GUID = "6c6f6765-0000-4000-8000-000000000002";
export const NIL = "00000000-0000-0000-0000-000000000000";

/** Runs `fn` and returns the VhdxError it throws, checking its code. */
export function expectVhdxError(fn: () => unknown, code: string, field?: string): VhdxError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(VhdxError.isInstance(caught), `expected a VhdxError, got ${String(caught)}`).toBe(true);
  const error = caught as VhdxError;
  expect(error.code).toBe(code);
  if (field !== undefined) expect(error.field).toBe(field);
  return error;
}

/** A small deterministic generator so a failure can be replayed: random(seed)(limit) is in [0, limit). */
export function random(seed: number): (limit: number) => number {
  let state = seed >>> 0;
  return (limit) => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    const high = state;
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return Math.floor(((high * 2 ** 21 + (state >>> 11)) / 2 ** 53) * limit);
  };
}

/** `length` bytes that differ at every position and from every other seed. */
export function pattern(seed: number, length = SECTOR): Uint8Array {
  const bytes = new Uint8Array(length);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  return bytes;
}

export type GenDescriptor =
  | { kind: "data"; fileOffset: number; data: Uint8Array; sequenceNumber?: bigint; sectorSequenceNumber?: bigint }
  | { kind: "zero"; fileOffset: number; zeroLength: number; sequenceNumber?: bigint; reserved?: number };

export interface GenEntry {
  sequenceNumber: bigint;
  /** Ring offset of the tail entry. */
  tail: number;
  logGuid?: string;
  descriptors?: GenDescriptor[];
  flushedFileOffset?: number;
  lastFileOffset?: number;
  /** Overrides of what the descriptors imply. */
  descriptorCount?: number;
  entryLength?: number;
  reserved?: number;
}

/** Byte position of descriptor `k` in its entry: slots 0 and 1 of sector 0 hold the header. */
export function descriptorAt(k: number): number {
  const slot = k + 2;
  return Math.floor(slot / 128) * SECTOR + (slot % 128) * 32;
}

/** The bytes of one entry, checksum right (over all the bytes made, whatever EntryLength says). */
export function encodeEntry(e: GenEntry): Uint8Array {
  const descriptors = e.descriptors ?? [];
  const data = descriptors.filter((d) => d.kind === "data");
  const descriptorSectors = Math.ceil((descriptors.length + 2) / 128);
  const natural = (descriptorSectors + data.length) * SECTOR;
  const bytes = new Uint8Array(natural);
  const header = encodeLogEntryHeader({
    entryLength: e.entryLength ?? natural,
    tail: e.tail,
    sequenceNumber: e.sequenceNumber,
    descriptorCount: e.descriptorCount ?? descriptors.length,
    reserved: e.reserved ?? 0,
    logGuid: e.logGuid ?? GUID,
    flushedFileOffset: e.flushedFileOffset ?? 4 * MiB,
    lastFileOffset: e.lastFileOffset ?? 4 * MiB,
  });
  bytes.set(header, 0);
  let sector = descriptorSectors;
  descriptors.forEach((d, k) => {
    const sequenceNumber = d.sequenceNumber ?? e.sequenceNumber;
    if (d.kind === "zero") {
      bytes.set(
        encodeZeroDescriptor({
          zeroLength: d.zeroLength,
          fileOffset: d.fileOffset,
          sequenceNumber,
          reserved: d.reserved ?? 0,
        }),
        descriptorAt(k),
      );
      return;
    }
    const split = splitLogUpdate(d.data, d.fileOffset, sequenceNumber);
    bytes.set(encodeDataDescriptor(split.descriptor), descriptorAt(k));
    const sectorSplit = splitLogUpdate(d.data, d.fileOffset, d.sectorSequenceNumber ?? e.sequenceNumber);
    bytes.set(encodeDataSector(sectorSplit.sector), sector * SECTOR);
    sector++;
  });
  return rechecksum(bytes);
}

/** Stores the CRC-32C of all of `bytes` (checksum field as zero) in the header. */
export function rechecksum(bytes: Uint8Array): Uint8Array {
  new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).setUint32(4, computeChecksum(bytes, 4), true);
  return bytes;
}

/** Copies `bytes` into the ring from `offset`, wrapping at its end; returns the offset after them. */
export function put(ring: Uint8Array, offset: number, bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; i++) ring[(offset + i) % ring.length] = bytes[i]!;
  return (offset + bytes.length) % ring.length;
}

/** Puts entries one after the other from `start`; returns each entry's offset. */
export function putChain(ring: Uint8Array, start: number, entries: Uint8Array[]): number[] {
  const offsets: number[] = [];
  let at = start;
  for (const entry of entries) {
    offsets.push(at);
    at = put(ring, at, entry);
  }
  return offsets;
}

/** A one-data-descriptor entry of 2 sectors, its own tail. */
export function smallEntry(sequenceNumber: bigint, offset: number, extra: Partial<GenEntry> = {}): Uint8Array {
  const data = pattern(Number(sequenceNumber));
  return encodeEntry({
    sequenceNumber,
    tail: offset,
    descriptors: [{ kind: "data", fileOffset: 2 * MiB, data }],
    ...extra,
  });
}

export function writeU32(bytes: Uint8Array, at: number, value: number): void {
  new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).setUint32(at, value, true);
}

export function writeU64(bytes: Uint8Array, at: number, value: bigint): void {
  new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).setBigUint64(at, value, true);
}
