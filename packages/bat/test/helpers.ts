// Shared by the tests: error matching, a replayable random source, and a BAT
// entry encoder that shares nothing with src/ (it goes through BigInt).
import { VhdxError } from "@vhdx/structs";
import { expect } from "vitest";

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;
export const TiB = 1024 * GiB;

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

/** Writes a BAT entry the slow, obvious way: state | reserved << 3 | FileOffsetMB << 20, as one u64. */
export function writeEntry(bytes: Uint8Array, index: number, state: number, fileOffsetMB: number, reserved = 0): void {
  const value = BigInt(state) | (BigInt(reserved) << 3n) | (BigInt(fileOffsetMB) << 20n);
  new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).setBigUint64(index * 8, value, true);
}

export function readEntry(bytes: Uint8Array, index: number): bigint {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(index * 8, true);
}
