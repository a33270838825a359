// The two sector size items share one layout and one rule: a u32, 512 or 4096.
import { SECTOR_SIZE_4096, SECTOR_SIZE_512 } from "../constants.js";
import type { Violation } from "../violation.js";
import { Reader, Writer } from "./bytes.js";
import { violation } from "./rules.js";

export const SECTOR_SIZE_ITEM_SIZE = 4;

export function decodeSectorSize(structure: string, bytes: Uint8Array, offset: number, fileOffset?: number): number {
  return new Reader(structure, bytes, offset, SECTOR_SIZE_ITEM_SIZE, fileOffset).u32(0);
}

export function encodeSectorSize(structure: string, field: string, value: number): Uint8Array {
  const w = new Writer(structure, SECTOR_SIZE_ITEM_SIZE);
  w.u32(0, value, field);
  return w.bytes;
}

export function validateSectorSize(field: string, value: number): Violation[] {
  if (value === SECTOR_SIZE_512 || value === SECTOR_SIZE_4096) return [];
  return [violation("SECTOR_SIZE", "BAD_FIELD", field, `${field} is ${value}, expected 512 or 4096`)];
}
