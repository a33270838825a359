import { describe, expect, it } from "vitest";
import {
  PAYLOAD_BLOCK_FULLY_PRESENT,
  PAYLOAD_BLOCK_NOT_PRESENT,
  PAYLOAD_BLOCK_PARTIALLY_PRESENT,
  PAYLOAD_BLOCK_UNDEFINED,
  PAYLOAD_BLOCK_UNMAPPED,
  PAYLOAD_BLOCK_UNMAPPED_V095,
  PAYLOAD_BLOCK_ZERO,
  SB_BLOCK_NOT_PRESENT,
  SB_BLOCK_PRESENT,
  batEntryFileOffset,
  decodeBatEntry,
  encodeBatEntry,
  normalizePayloadState,
  readBatEntryState,
  validateBatEntry,
} from "../src/index.js";
import { expectVhdxError, hexOf, random, rules, setU64 } from "./helpers.js";

const u64 = (value: bigint) => {
  const bytes = new Uint8Array(8);
  setU64(bytes, 0, value);
  return bytes;
};

describe("BAT entry", () => {
  it("names the states with the spec's values", () => {
    expect([
      PAYLOAD_BLOCK_NOT_PRESENT,
      PAYLOAD_BLOCK_UNDEFINED,
      PAYLOAD_BLOCK_ZERO,
      PAYLOAD_BLOCK_UNMAPPED,
      PAYLOAD_BLOCK_UNMAPPED_V095,
      PAYLOAD_BLOCK_FULLY_PRESENT,
      PAYLOAD_BLOCK_PARTIALLY_PRESENT,
    ]).toEqual([0, 1, 2, 3, 5, 6, 7]);
    expect([SB_BLOCK_NOT_PRESENT, SB_BLOCK_PRESENT]).toEqual([0, 6]);
  });

  it("decodes known values: a block FULLY_PRESENT at 4 MiB, as Windows writes it", () => {
    expect(decodeBatEntry(u64((4n << 20n) | 6n))).toEqual({ state: 6, reserved: 0, fileOffsetMB: 4 });
    expect(hexOf(encodeBatEntry({ state: 6, fileOffsetMB: 4 }))).toBe("0600400000000000");
  });

  it("reads all 44 bits of FileOffsetMB, across the 32-bit halves", () => {
    const max = 2 ** 44 - 1;
    expect(decodeBatEntry(u64((BigInt(max) << 20n) | 7n))).toEqual({ state: 7, reserved: 0, fileOffsetMB: max });
    expect(decodeBatEntry(u64(0x0000_1000_0000_0000n)).fileOffsetMB).toBe(2 ** 24);
    expect(decodeBatEntry(u64(0x0000_0000_fff0_0000n)).fileOffsetMB).toBe(0xfff);
    expect(encodeBatEntry({ state: 0, fileOffsetMB: max })).toEqual(u64(BigInt(max) << 20n));
  });

  it("keeps the raw state 5 and the reserved bits", () => {
    const entry = decodeBatEntry(u64(0xfffffn));
    expect(entry).toEqual({ state: 7, reserved: 0x1ffff, fileOffsetMB: 0 });
    expect(decodeBatEntry(u64(5n)).state).toBe(5);
    expect(normalizePayloadState(5)).toBe(PAYLOAD_BLOCK_UNMAPPED);
    for (const s of [0, 1, 2, 3, 4, 6, 7]) expect(normalizePayloadState(s)).toBe(s);
  });

  it("round trips random values and random bytes", () => {
    const r = random(91);
    for (let i = 0; i < 100; i++) {
      const value = { state: r.int(8), reserved: r.int(0x20000), fileOffsetMB: r.u32() * 4096 + r.int(4096) };
      expect(decodeBatEntry(encodeBatEntry(value))).toEqual(value);
      const bytes = r.bytes(8);
      expect(encodeBatEntry(decodeBatEntry(bytes))).toEqual(bytes);
    }
  });

  it("decodes entry i of a BAT at offset 8 i, and readBatEntryState reads just the state", () => {
    const bat = new Uint8Array(64);
    bat.set(encodeBatEntry({ state: 6, fileOffsetMB: 9 }), 24);
    bat.set(encodeBatEntry({ state: 2, fileOffsetMB: 0 }), 56);
    expect(decodeBatEntry(bat, 24)).toEqual({ state: 6, reserved: 0, fileOffsetMB: 9 });
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((i) => readBatEntryState(bat, i))).toEqual([0, 0, 0, 6, 0, 0, 0, 2]);
    expectVhdxError(() => readBatEntryState(bat, 8), "TRUNCATED");
  });

  it("batEntryFileOffset: bytes, and OUT_OF_RANGE past 2^53 - 1", () => {
    expect(batEntryFileOffset({ fileOffsetMB: 4 })).toBe(4 * 1048576);
    expect(batEntryFileOffset({ fileOffsetMB: 2 ** 33 - 1 })).toBe((2 ** 33 - 1) * 2 ** 20);
    const error = expectVhdxError(() => batEntryFileOffset({ fileOffsetMB: 2 ** 33 }, 0x300008), "OUT_OF_RANGE");
    expect(error.message).toBe("BAT entry @0x300008: file offset 8589934592 MiB is past 2^53 - 1 bytes");
  });

  describe("validator", () => {
    const check = (state: number, fileOffsetMB: number, context = {}, reserved = 0) =>
      rules(validateBatEntry({ state, reserved, fileOffsetMB }, context));

    it("valid payload states", () => {
      for (const s of [0, 1, 2, 3]) expect(check(s, 0, { hasParent: false })).toEqual([]);
      expect(check(6, 4, { hasParent: false })).toEqual([]);
      expect(check(7, 4, { hasParent: true })).toEqual([]);
      expect(check(7, 4)).toEqual([]);
    });

    it("STATE: the reserved payload state 4, PARTIALLY_PRESENT without a parent", () => {
      const violations = validateBatEntry({ state: 4, reserved: 0, fileOffsetMB: 0 });
      expect(rules(violations)).toEqual(["STATE"]);
      expect(violations[0]!.code).toBe("CORRUPT_BAT");
      expect(check(7, 4, { hasParent: false })).toEqual(["STATE"]);
    });

    it("LEGACY_STATE: 5, a rule of its own so a reader can accept it", () => {
      expect(check(5, 0)).toEqual(["LEGACY_STATE"]);
    });

    it("STATE for sector bitmap entries: only 0 and 6, and 6 only with a parent", () => {
      const bitmap = { kind: "sector-bitmap" as const };
      expect(check(0, 0, bitmap)).toEqual([]);
      expect(check(6, 4, { ...bitmap, hasParent: true })).toEqual([]);
      for (const s of [1, 2, 3, 4, 5, 7]) expect(check(s, 0, bitmap)).toEqual(["STATE"]);
      expect(check(6, 4, { ...bitmap, hasParent: false })).toEqual(["STATE"]);
    });

    it("RESERVED bits", () => {
      expect(check(0, 0, {}, 1)).toEqual(["RESERVED"]);
    });

    it("FILE_OFFSET: a present block at offset 0", () => {
      expect(check(6, 0)).toEqual(["FILE_OFFSET"]);
      expect(check(7, 0)).toEqual(["FILE_OFFSET"]);
      expect(check(6, 0, { kind: "sector-bitmap" })).toEqual(["FILE_OFFSET"]);
      expect(check(2, 0)).toEqual([]);
    });

    it("OFFSET_RANGE: a present block past 2^53 - 1 bytes", () => {
      const violations = validateBatEntry({ state: 6, reserved: 0, fileOffsetMB: 2 ** 33 });
      expect(rules(violations)).toEqual(["OFFSET_RANGE"]);
      expect(violations[0]!.code).toBe("OUT_OF_RANGE");
      expect(check(0, 2 ** 40)).toEqual([]);
    });
  });

  describe("hostile input", () => {
    it("TRUNCATED on 0, 1 and 7 bytes", () => {
      for (const length of [0, 1, 7]) expectVhdxError(() => decodeBatEntry(new Uint8Array(length)), "TRUNCATED");
    });

    it("encoder: OUT_OF_RANGE for a state over 7, reserved over 17 bits, an offset over 44 bits", () => {
      expectVhdxError(() => encodeBatEntry({ state: 8, fileOffsetMB: 0 }), "OUT_OF_RANGE");
      expectVhdxError(() => encodeBatEntry({ state: 0, reserved: 0x20000, fileOffsetMB: 0 }), "OUT_OF_RANGE");
      expectVhdxError(() => encodeBatEntry({ state: 0, fileOffsetMB: 2 ** 44 }), "OUT_OF_RANGE");
      expectVhdxError(() => encodeBatEntry({ state: 0, fileOffsetMB: 1.5 }), "OUT_OF_RANGE");
    });
  });
});
