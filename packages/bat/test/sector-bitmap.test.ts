import { describe, expect, it } from "vitest";
import { isSectorPresent, sectorRunLength, setSectorRange } from "../src/index.js";
import { expectVhdxError, MiB, random } from "./helpers.js";

/** Bit `sector` read the obvious way: byte sector / 8, bit sector % 8 counted from the least significant. */
const bitOf = (bitmap: Uint8Array, sector: number) => (bitmap[Math.floor(sector / 8)]! >> (sector % 8)) & 1;

/** The loop sectorRunLength replaces. */
function naiveRunLength(bitmap: Uint8Array, first: number, maxCount: number): number {
  const bit = bitOf(bitmap, first);
  let count = 0;
  while (count < maxCount && first + count < bitmap.length * 8 && bitOf(bitmap, first + count) === bit) count++;
  return count;
}

/** A bitmap of random runs: long stretches of 0s and 1s with short ragged parts, like real ones. */
function runBitmap(length: number, next: (limit: number) => number, longest: number): Uint8Array {
  const bitmap = new Uint8Array(length);
  let sector = 0;
  let present = next(2) === 1;
  while (sector < length * 8) {
    const run = 1 + next(next(4) === 0 ? 16 : longest);
    const count = Math.min(run, length * 8 - sector);
    setSectorRange(bitmap, sector, count, present);
    sector += count;
    present = !present;
  }
  return bitmap;
}

describe("sector bitmap bit order", () => {
  it("puts the first sector in bit 0 of byte 0", () => {
    expect(isSectorPresent(Uint8Array.of(0x01, 0), 0)).toBe(true);
    expect(isSectorPresent(Uint8Array.of(0x01, 0), 1)).toBe(false);
    expect(isSectorPresent(Uint8Array.of(0x80, 0), 7)).toBe(true);
    expect(isSectorPresent(Uint8Array.of(0x80, 0), 0)).toBe(false);
    expect(isSectorPresent(Uint8Array.of(0, 0x01), 8)).toBe(true);
    expect(isSectorPresent(Uint8Array.of(0, 0x02), 9)).toBe(true);
  });

  it("sets the bits the spec names", () => {
    const bitmap = new Uint8Array(4);
    setSectorRange(bitmap, 0, 1, true);
    expect(Array.from(bitmap)).toEqual([0x01, 0, 0, 0]);
    setSectorRange(bitmap, 6, 4, true);
    expect(Array.from(bitmap)).toEqual([0xc1, 0x03, 0, 0]);
    setSectorRange(bitmap, 16, 16, true);
    expect(Array.from(bitmap)).toEqual([0xc1, 0x03, 0xff, 0xff]);
    setSectorRange(bitmap, 7, 18, false);
    expect(Array.from(bitmap)).toEqual([0x41, 0x00, 0x00, 0xfe]);
  });
});

describe("setSectorRange", () => {
  it("matches a per-bit model across byte and word edges", () => {
    const next = random(11);
    const bitmap = new Uint8Array(64);
    for (let i = 0; i < bitmap.length; i++) bitmap[i] = next(256);
    const model = Array.from({ length: 512 }, (_, sector) => bitOf(bitmap, sector) === 1);
    for (let round = 0; round < 3000; round++) {
      const first = next(513);
      const count = next(Math.min(80, 512 - first) + 1);
      const present = next(2) === 1;
      setSectorRange(bitmap, first, count, present);
      for (let sector = first; sector < first + count; sector++) model[sector] = present;
      for (let sector = 0; sector < 512; sector++) {
        if (isSectorPresent(bitmap, sector) !== model[sector]) {
          expect(isSectorPresent(bitmap, sector), `round ${round}: set ${first}+${count}; sector ${sector}`).toBe(
            model[sector],
          );
        }
      }
    }
  });

  it("fills a whole 1 MiB bitmap", () => {
    const bitmap = new Uint8Array(MiB);
    setSectorRange(bitmap, 0, 2 ** 23, true);
    expect(bitmap.every((byte) => byte === 0xff)).toBe(true);
    setSectorRange(bitmap, 1, 2 ** 23 - 2, false);
    expect(bitmap[0]).toBe(0x01);
    expect(bitmap[MiB - 1]).toBe(0x80);
    expect(bitmap.subarray(1, MiB - 1).every((byte) => byte === 0)).toBe(true);
  });

  it("refuses ranges outside the bitmap", () => {
    const bitmap = new Uint8Array(2);
    expectVhdxError(() => setSectorRange(bitmap, 10, 7, true), "OUT_OF_RANGE");
    expectVhdxError(() => setSectorRange(bitmap, -1, 1, true), "OUT_OF_RANGE");
    expectVhdxError(() => setSectorRange(bitmap, 0, 1.5, true), "OUT_OF_RANGE");
    setSectorRange(bitmap, 16, 0, true);
    expect(Array.from(bitmap)).toEqual([0, 0]);
  });
});

describe("sectorRunLength", () => {
  it("counts whole bitmaps of zeros and ones", () => {
    const zeros = new Uint8Array(MiB);
    expect(sectorRunLength(zeros, 0, 2 ** 23)).toBe(2 ** 23);
    expect(sectorRunLength(zeros, 5, Number.MAX_SAFE_INTEGER)).toBe(2 ** 23 - 5);
    expect(sectorRunLength(zeros, 5, 1000)).toBe(1000);
    const ones = new Uint8Array(MiB).fill(0xff);
    expect(sectorRunLength(ones, 3, 2 ** 23)).toBe(2 ** 23 - 3);
    ones[MiB - 1] = 0x7f;
    expect(sectorRunLength(ones, 0, 2 ** 23)).toBe(2 ** 23 - 1);
    expect(sectorRunLength(ones, 2 ** 23 - 1, 10)).toBe(1);
    expect(sectorRunLength(ones, 0, 0)).toBe(0);
  });

  it("stops at a change inside a word after a long run", () => {
    const bitmap = new Uint8Array(4096);
    bitmap[1000] = 0x10;
    expect(sectorRunLength(bitmap, 0, 2 ** 20)).toBe(8004);
    expect(sectorRunLength(bitmap, 8004, 2 ** 20)).toBe(1);
    expect(sectorRunLength(bitmap, 8005, 2 ** 20)).toBe(4096 * 8 - 8005);
  });

  it("agrees with a per-bit loop on random bitmaps, at every alignment of the view", () => {
    const next = random(12);
    for (let round = 0; round < 40; round++) {
      const backing = runBitmap(4096 + 8, next, [8, 64, 700, 5000][round % 4]!);
      const bitmap = backing.subarray(round % 7, (round % 7) + 4096 - next(9));
      const bits = bitmap.length * 8;
      for (let probe = 0; probe < 300; probe++) {
        const first = next(bits);
        const maxCount = next(4) === 0 ? next(40) : next(bits + 100);
        const expected = naiveRunLength(bitmap, first, maxCount);
        if (sectorRunLength(bitmap, first, maxCount) !== expected) {
          expect(sectorRunLength(bitmap, first, maxCount), `round ${round} first ${first} max ${maxCount}`).toBe(
            expected,
          );
        }
      }
    }
  });

  it("agrees with a per-bit loop on a 1 MiB bitmap with long runs", () => {
    const next = random(13);
    const bitmap = runBitmap(MiB, next, 300_000);
    let sector = 0;
    let runs = 0;
    while (sector < 2 ** 23) {
      const count = sectorRunLength(bitmap, sector, 2 ** 23);
      expect(count).toBe(naiveRunLength(bitmap, sector, 2 ** 23));
      sector += count;
      runs++;
    }
    expect(runs).toBeGreaterThan(10);
  });

  it("refuses a first sector outside the bitmap and a bad count", () => {
    const bitmap = new Uint8Array(2);
    expectVhdxError(() => sectorRunLength(bitmap, 16, 1), "OUT_OF_RANGE");
    expectVhdxError(() => sectorRunLength(bitmap, -1, 1), "OUT_OF_RANGE");
    expectVhdxError(() => sectorRunLength(bitmap, 0, -1), "OUT_OF_RANGE");
    expectVhdxError(() => isSectorPresent(bitmap, 16), "OUT_OF_RANGE");
    expect(() => sectorRunLength([] as unknown as Uint8Array, 0, 1)).toThrow(TypeError);
  });
});
