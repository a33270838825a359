// Reading and writing a mapped field of a mutant (little-endian), and fixing
// the checksum of the structure that covers it.
import { writeChecksum, writeLogEntryChecksum } from "@vhdx/structs";
import type { Field, FieldKind, Structure } from "./structure-map.js";

export const FIELD_SIZE: Record<FieldKind, number> = { u8: 1, u16: 2, u32: 4, u64: 8, guid: 16 };

export function fieldFits(bytes: Uint8Array, field: Field): boolean {
  return field.offset >= 0 && field.offset + FIELD_SIZE[field.kind] <= bytes.length;
}

export function readField(bytes: Uint8Array, field: Field): bigint {
  const size = FIELD_SIZE[field.kind];
  let value = 0n;
  for (let i = Math.min(size, 8) - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[field.offset + i] ?? 0);
  return value;
}

export function writeField(bytes: Uint8Array, field: Field, value: bigint): void {
  const size = Math.min(FIELD_SIZE[field.kind], 8);
  for (let i = 0; i < size && field.offset + i < bytes.length; i++) {
    bytes[field.offset + i] = Number((value >> BigInt(8 * i)) & 0xffn);
  }
}

/**
 * Recomputes the checksum covering `structure` so the mutant gets past the
 * checksum to deeper validation. Returns false when it could not (the
 * structure no longer fits, or a log entry's length now runs past the ring).
 */
export function fixChecksum(bytes: Uint8Array, structure: Structure): boolean {
  const checksum = structure.checksum;
  if (checksum === undefined) return true;
  try {
    if (checksum.kind === "crc") {
      if (checksum.start + checksum.length > bytes.length) return false;
      writeChecksum(bytes.subarray(checksum.start, checksum.start + checksum.length), 4);
    } else {
      writeLogEntryChecksum(bytes.subarray(checksum.start, Math.min(checksum.ringEnd, bytes.length)), 0);
    }
    return true;
  } catch {
    return false;
  }
}

/** " (checksum fixed)" or " (checksum left stale)" for a structure with a checksum; "" otherwise. */
export function checksumNote(structure: Structure, fixed: boolean): string {
  if (structure.checksum === undefined) return "";
  return fixed ? " (checksum fixed)" : " (checksum left stale)";
}

export function hex(value: number | bigint): string {
  return `0x${value.toString(16)}`;
}
