// Shared test helpers: the real Windows vectors (in test/vectors/libvhdi), a
// seeded random source so a failure can be replayed, and an assertion for
// VhdxError codes.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";
import { VhdxError, type VhdxErrorCode } from "../src/index.js";

export function vector(name: string): Uint8Array {
  const path = fileURLToPath(new URL(`./vectors/libvhdi/${name}`, import.meta.url));
  return new Uint8Array(readFileSync(path));
}

/** `bytes` copied into a zeroed array of `length` bytes. */
export function padded(bytes: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  out.set(bytes);
  return out;
}

export function hexOf(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

/** Runs `fn`, expects a VhdxError with `code`, and returns it. */
export function expectVhdxError(fn: () => unknown, code: VhdxErrorCode): VhdxError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught, "expected a VhdxError").toBeDefined();
  expect(VhdxError.isInstance(caught), `expected a VhdxError, got ${String(caught)}`).toBe(true);
  expect((caught as VhdxError).code).toBe(code);
  return caught as VhdxError;
}

export interface Random {
  u32(): number;
  int(maxExclusive: number): number;
  bool(): boolean;
  bytes(length: number): Uint8Array;
  guid(): string;
  /** An integer from 0 to 2^53 - 1. */
  safeU64(): number;
  bigU64(): bigint;
  /** A multiple of `unit` from 0 up to `max`. */
  multiple(unit: number, max: number): number;
}

/** A small deterministic generator (xorshift32). */
export function random(seed: number): Random {
  let state = seed >>> 0 || 1;
  const u32 = () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state;
  };
  const int = (max: number) => Math.floor((u32() / 2 ** 32) * max);
  const bytes = (length: number) => Uint8Array.from({ length }, () => u32() & 0xff);
  const hex = (length: number) => Buffer.from(bytes(length)).toString("hex");
  return {
    u32,
    int,
    bool: () => (u32() & 1) === 1,
    bytes,
    guid: () => `${hex(4)}-${hex(2)}-${hex(2)}-${hex(2)}-${hex(6)}`,
    safeU64: () => (u32() & 0x1f_ffff) * 2 ** 32 + u32(),
    bigU64: () => (BigInt(u32()) << 32n) | BigInt(u32()),
    multiple: (unit, max) => unit * int(Math.floor(max / unit) + 1),
  };
}

/** Clears the top 11 bits of the little-endian u64 at `offset`, so it is a safe integer. */
export function makeSafeU64(bytes: Uint8Array, offset: number): void {
  bytes[offset + 6] = bytes[offset + 6]! & 0x1f;
  bytes[offset + 7] = 0;
}

/** Stores a little-endian u64. */
export function setU64(bytes: Uint8Array, offset: number, value: bigint): void {
  new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).setBigUint64(offset, value, true);
}

export function setU32(bytes: Uint8Array, offset: number, value: number): void {
  new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).setUint32(offset, value, true);
}

export function setU16(bytes: Uint8Array, offset: number, value: number): void {
  new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).setUint16(offset, value, true);
}

/** The rule names of a list of violations. */
export function rules(violations: readonly { rule: string }[]): string[] {
  return violations.map((v) => v.rule);
}

/** Byte equality that stays fast on 64 KiB buffers; a failure names the first differing offset. */
export function expectSameBytes(actual: Uint8Array, expected: Uint8Array): void {
  expect(actual.length, "length").toBe(expected.length);
  if (Buffer.from(actual.buffer, actual.byteOffset, actual.length).equals(expected)) return;
  const at = actual.findIndex((b, i) => b !== expected[i]);
  expect(`offset ${at}: ${actual[at]}`).toBe(`offset ${at}: ${expected[at]}`);
}
