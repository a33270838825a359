// MS-VHDX 2.5.1 BAT Entry: one little-endian u64 per payload or sector bitmap
// block. States: 2.5.1.1 (payload blocks) and 2.5.1.2 (sector bitmap blocks).
//
// | offset | size    | field        | rule                                                        |
// |--------|---------|--------------|-------------------------------------------------------------|
// | bit 0  | 3 bits  | state        | payload 0-3, 6, 7 (7 differencing only; 5 is the v0.95 UNMAPPED); sector bitmap 0 or 6 (6 differencing only) |
// | bit 3  | 17 bits | reserved     | zero                                                        |
// | bit 20 | 44 bits | fileOffsetMB | file offset in MiB; nonzero for present blocks              |
import { MiB } from "./constants.js";
import { VhdxError } from "./errors.js";
import { Reader, Writer, requireBytes } from "./internal/bytes.js";
import { checkReserved, violation } from "./internal/rules.js";
import type { Violation } from "./violation.js";

export const BAT_ENTRY_SIZE = 8;
const STRUCTURE = "BAT entry";
const TWO_POW_20 = 2 ** 20;
const TWO_POW_12 = 2 ** 12;
/** The largest FileOffsetMB whose byte offset is still a safe integer. */
const MAX_SAFE_FILE_OFFSET_MB = 2 ** 33 - 1;
const MAX_FILE_OFFSET_MB = 2 ** 44 - 1;

export const PAYLOAD_BLOCK_NOT_PRESENT = 0;
export const PAYLOAD_BLOCK_UNDEFINED = 1;
export const PAYLOAD_BLOCK_ZERO = 2;
export const PAYLOAD_BLOCK_UNMAPPED = 3;
/** UNMAPPED as the v0.95 draft wrote it: read it as UNMAPPED, never write it. */
export const PAYLOAD_BLOCK_UNMAPPED_V095 = 5;
export const PAYLOAD_BLOCK_FULLY_PRESENT = 6;
export const PAYLOAD_BLOCK_PARTIALLY_PRESENT = 7;
export const SB_BLOCK_NOT_PRESENT = 0;
export const SB_BLOCK_PRESENT = 6;

export interface BatEntry {
  /** The raw 3-bit state, 0 to 7 (5 stays 5; see normalizePayloadState). */
  state: number;
  /** Bits 3-19. */
  reserved: number;
  /** File offset in MiB, up to 2^44 - 1. */
  fileOffsetMB: number;
}

export type BatEntryInit = Omit<BatEntry, "reserved"> & Partial<Pick<BatEntry, "reserved">>;

export interface BatEntryContext {
  /** Which kind of block the entry describes; payload when absent. */
  kind?: "payload" | "sector-bitmap";
  /** Whether the file is a differencing file; states allowed only there are checked when known. */
  hasParent?: boolean;
}

export function decodeBatEntry(bytes: Uint8Array, offset = 0, fileOffset?: number): BatEntry {
  const r = new Reader(STRUCTURE, bytes, offset, BAT_ENTRY_SIZE, fileOffset);
  const low = r.u32(0);
  return { state: low & 7, reserved: (low >>> 3) & 0x1_ffff, fileOffsetMB: r.u32(4) * TWO_POW_12 + (low >>> 20) };
}

export function encodeBatEntry(value: BatEntryInit): Uint8Array {
  const w = new Writer(STRUCTURE, BAT_ENTRY_SIZE);
  const state = w.checkInteger(value.state, 7, "state");
  const reserved = w.checkInteger(value.reserved ?? 0, 0x1_ffff, "reserved");
  const mb = w.checkInteger(value.fileOffsetMB, MAX_FILE_OFFSET_MB, "fileOffsetMB");
  w.u32(0, state + reserved * 8 + (mb % TWO_POW_12) * TWO_POW_20, "low");
  w.u32(4, Math.floor(mb / TWO_POW_12), "high");
  return w.bytes;
}

/** The state of entry `index` of a BAT, without decoding the rest. */
export function readBatEntryState(bat: Uint8Array, index: number): number {
  requireBytes(STRUCTURE, bat, index * BAT_ENTRY_SIZE, BAT_ENTRY_SIZE, undefined);
  return bat[index * BAT_ENTRY_SIZE]! & 7;
}

/** 5 (the v0.95 UNMAPPED) becomes 3; every other state is returned as is. */
export function normalizePayloadState(state: number): number {
  return state === PAYLOAD_BLOCK_UNMAPPED_V095 ? PAYLOAD_BLOCK_UNMAPPED : state;
}

/** The entry's file offset in bytes; OUT_OF_RANGE past 2^53 - 1, which only a hostile file reaches. */
export function batEntryFileOffset(entry: Pick<BatEntry, "fileOffsetMB">, fileOffset?: number): number {
  if (entry.fileOffsetMB > MAX_SAFE_FILE_OFFSET_MB) {
    const detail = `file offset ${entry.fileOffsetMB} MiB is past 2^53 - 1 bytes`;
    throw new VhdxError("OUT_OF_RANGE", detail, { structure: STRUCTURE, field: "fileOffsetMB", offset: fileOffset });
  }
  return entry.fileOffsetMB * MiB;
}

/**
 * Rules: STATE (reserved values, and states only a differencing file may use
 * when `context.hasParent` is known), LEGACY_STATE (5, readable as UNMAPPED),
 * RESERVED, FILE_OFFSET (a present block at offset 0), OFFSET_RANGE.
 */
export function validateBatEntry(value: BatEntry, context: BatEntryContext = {}): Violation[] {
  const out: Violation[] = [];
  const present =
    context.kind === "sector-bitmap" ? checkBitmapState(out, value, context) : checkPayloadState(out, value, context);
  checkReserved(out, "reserved", value.reserved === 0);
  if (present && value.fileOffsetMB === 0) {
    out.push(violation("FILE_OFFSET", "BAD_FIELD", "fileOffsetMB", `a present block at file offset 0`));
  }
  if (present && value.fileOffsetMB > MAX_SAFE_FILE_OFFSET_MB) {
    const message = `file offset ${value.fileOffsetMB} MiB is past 2^53 - 1 bytes`;
    out.push(violation("OFFSET_RANGE", "OUT_OF_RANGE", "fileOffsetMB", message));
  }
  return out;
}

/** Returns whether the state says the block is in the file. */
function checkPayloadState(out: Violation[], value: BatEntry, context: BatEntryContext): boolean {
  const { state } = value;
  if (state === 4) out.push(violation("STATE", "CORRUPT_BAT", "state", "payload state 4 is reserved"));
  if (state === PAYLOAD_BLOCK_UNMAPPED_V095) {
    out.push(violation("LEGACY_STATE", "CORRUPT_BAT", "state", "payload state 5 is the v0.95 UNMAPPED; write 3"));
  }
  if (state === PAYLOAD_BLOCK_PARTIALLY_PRESENT && context.hasParent === false) {
    out.push(violation("STATE", "CORRUPT_BAT", "state", "PARTIALLY_PRESENT in a file without a parent"));
  }
  return state === PAYLOAD_BLOCK_FULLY_PRESENT || state === PAYLOAD_BLOCK_PARTIALLY_PRESENT;
}

function checkBitmapState(out: Violation[], value: BatEntry, context: BatEntryContext): boolean {
  const { state } = value;
  if (state !== SB_BLOCK_NOT_PRESENT && state !== SB_BLOCK_PRESENT) {
    out.push(violation("STATE", "CORRUPT_BAT", "state", `sector bitmap state ${state} is reserved`));
  }
  if (state === SB_BLOCK_PRESENT && context.hasParent === false) {
    out.push(violation("STATE", "CORRUPT_BAT", "state", "SB_BLOCK_PRESENT in a file without a parent"));
  }
  return state === SB_BLOCK_PRESENT;
}
