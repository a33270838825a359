import { describe, expect, it } from "vitest";
import { BatTable, computeGeometry } from "../src/index.js";
import { expectVhdxError, GiB, MiB, random, readEntry, writeEntry } from "./helpers.js";

const dynamic4 = computeGeometry({ virtualSize: 4 * MiB, blockSize: MiB, logicalSectorSize: 512, hasParent: false });

describe("BatTable on hand-built bytes", () => {
  it("reads state and FileOffsetMB from the bytes as the spec lays them out", () => {
    // FULLY_PRESENT at 3 MiB: 6 | 3 << 20 = 0x00300006, little-endian.
    const bytes = Uint8Array.from([0x06, 0x00, 0x30, 0x00, 0, 0, 0, 0, ...new Array(24).fill(0)]);
    const table = new BatTable(bytes, dynamic4);
    expect(table.state(0)).toBe(6);
    expect(table.fileOffsetMB(0)).toBe(3);
    expect(table.fileOffset(0)).toBe(3 * MiB);
    expect(table.reservedBits(0)).toBe(0);
    expect(table.state(1)).toBe(0);
    expect(table.fileOffsetMB(1)).toBe(0);
  });

  it("reads the largest 44-bit FileOffsetMB, 0xFFFFFFFFFFF", () => {
    const bytes = new Uint8Array(32);
    bytes.set([0x07, 0x00, 0xf0, 0xff, 0xff, 0xff, 0xff, 0xff], 8);
    const table = new BatTable(bytes, dynamic4);
    expect(table.state(1)).toBe(7);
    expect(table.reservedBits(1)).toBe(0);
    expect(table.fileOffsetMB(1)).toBe(0xfffffffffff);
  });

  it("reads FileOffsetMB above 2^32 through the high half", () => {
    const bytes = new Uint8Array(32);
    writeEntry(bytes, 2, 6, 2 ** 32 + 5);
    writeEntry(bytes, 3, 6, 0x123456789ab);
    const table = new BatTable(bytes, dynamic4);
    expect(table.fileOffsetMB(2)).toBe(2 ** 32 + 5);
    expect(table.fileOffsetMB(3)).toBe(0x123456789ab);
  });

  it("reports the reserved bits 3..19 and keeps them out of state and offset", () => {
    const bytes = new Uint8Array(32);
    bytes.set([0xf8, 0xff, 0x0f, 0x00], 0); // bits 3..19 all set
    writeEntry(bytes, 1, 2, 9, 0x10001);
    const table = new BatTable(bytes, dynamic4);
    expect(table.reservedBits(0)).toBe(0x1ffff);
    expect(table.state(0)).toBe(0);
    expect(table.fileOffsetMB(0)).toBe(0);
    expect(table.reservedBits(1)).toBe(0x10001);
    expect(table.state(1)).toBe(2);
    expect(table.fileOffsetMB(1)).toBe(9);
  });

  it("refuses a byte offset past 2^53 as CORRUPT_BAT with the entry's file offset", () => {
    const bytes = new Uint8Array(32);
    writeEntry(bytes, 0, 6, 2 ** 33 - 1);
    writeEntry(bytes, 1, 6, 2 ** 33);
    const table = new BatTable(bytes, dynamic4, { regionFileOffset: 2 * MiB });
    expect(table.fileOffset(0)).toBe((2 ** 33 - 1) * MiB);
    expect(Number.isSafeInteger(table.fileOffset(0))).toBe(true);
    const error = expectVhdxError(() => table.fileOffset(1), "CORRUPT_BAT", "FileOffsetMB");
    expect(error.offset).toBe(2 * MiB + 8);
  });

  it("reads entries from a view at an odd byte offset of a larger buffer", () => {
    const backing = new Uint8Array(64);
    const view = backing.subarray(3, 3 + 32);
    writeEntry(view, 3, 6, 77);
    const table = new BatTable(view, dynamic4);
    expect(table.bytes).toBe(view);
    expect(table.state(3)).toBe(6);
    expect(table.fileOffsetMB(3)).toBe(77);
  });
});

describe("BatTable.setEntry", () => {
  it("round-trips random entries and writes the bytes the spec defines", () => {
    const next = random(7);
    const geometry = computeGeometry({
      virtualSize: 64 * MiB,
      blockSize: MiB,
      logicalSectorSize: 512,
      hasParent: true,
    });
    const bytes = new Uint8Array(geometry.batByteLength);
    const table = new BatTable(bytes, geometry);
    for (let round = 0; round < 2000; round++) {
      const index = next(geometry.batEntryCount);
      const state = next(8);
      const mb = [0, 1, 4095, 4096, 2 ** 32 - 1, 2 ** 32, 2 ** 44 - 1, next(2 ** 44)][next(8)]!;
      table.setEntry(index, state, mb);
      expect(table.state(index)).toBe(state);
      expect(table.fileOffsetMB(index)).toBe(mb);
      expect(table.reservedBits(index)).toBe(0);
      expect(readEntry(bytes, index)).toBe(BigInt(state) | (BigInt(mb) << 20n));
    }
  });

  it("writes into the caller's bytes and clears reserved bits", () => {
    const bytes = new Uint8Array(32).fill(0xff);
    const table = new BatTable(bytes, dynamic4);
    table.setEntry(1, 6, 5);
    expect(Array.from(bytes.subarray(8, 16))).toEqual([0x06, 0x00, 0x50, 0x00, 0, 0, 0, 0]);
    expect(bytes[0]).toBe(0xff);
    expect(bytes[16]).toBe(0xff);
  });

  it("refuses states and offsets that do not fit", () => {
    const table = new BatTable(new Uint8Array(32), dynamic4);
    for (const state of [-1, 8, 1.5]) expectVhdxError(() => table.setEntry(0, state, 1), "BAD_FIELD", "State");
    for (const mb of [-1, 2 ** 44, 0.5]) expectVhdxError(() => table.setEntry(0, 6, mb), "BAD_FIELD", "FileOffsetMB");
    expectVhdxError(() => table.setEntry(4, 6, 1), "OUT_OF_RANGE");
  });
});

describe("BatTable bounds", () => {
  it("throws TRUNCATED with the region's offset when the bytes are shorter than the BAT", () => {
    const error = expectVhdxError(
      () => new BatTable(new Uint8Array(31), dynamic4, { regionFileOffset: 3 * MiB }),
      "TRUNCATED",
    );
    expect(error.offset).toBe(3 * MiB);
    expect(new BatTable(new Uint8Array(32), dynamic4).entryCount).toBe(4);
  });

  it("throws OUT_OF_RANGE for entries outside the BAT, even when the region is larger", () => {
    const table = new BatTable(new Uint8Array(MiB), dynamic4);
    for (const index of [-1, 4, 1.5, NaN, 2 ** 32]) {
      expectVhdxError(() => table.state(index), "OUT_OF_RANGE");
      expectVhdxError(() => table.fileOffsetMB(index), "OUT_OF_RANGE");
    }
  });

  it("throws TypeError when the bytes are not a Uint8Array", () => {
    expect(() => new BatTable([] as unknown as Uint8Array, dynamic4)).toThrow(TypeError);
  });
});

describe("BatTable by payload block and chunk", () => {
  it("follows the interleaving: chunk ratio 16, the bitmap entry after each 16 payload entries", () => {
    const geometry = computeGeometry({
      virtualSize: 5 * GiB,
      blockSize: 256 * MiB,
      logicalSectorSize: 512,
      hasParent: true,
    });
    expect(geometry.batEntryCount).toBe(34);
    const bytes = new Uint8Array(geometry.batByteLength);
    writeEntry(bytes, 15, 6, 100); // block 15
    writeEntry(bytes, 16, 6, 200); // bitmap of chunk 0
    writeEntry(bytes, 17, 7, 300); // block 16
    writeEntry(bytes, 33, 6, 400); // bitmap of chunk 1
    const table = new BatTable(bytes, geometry);
    expect(table.payloadState(15)).toBe(6);
    expect(table.payloadFileOffset(15)).toBe(100 * MiB);
    expect(table.sectorBitmapState(0)).toBe(6);
    expect(table.sectorBitmapFileOffset(0)).toBe(200 * MiB);
    expect(table.payloadState(16)).toBe(7);
    expect(table.payloadFileOffset(16)).toBe(300 * MiB);
    expect(table.sectorBitmapState(1)).toBe(6);
    expect(table.sectorBitmapFileOffset(1)).toBe(400 * MiB);
    expect(table.payloadState(19)).toBe(0);
    expectVhdxError(() => table.payloadState(20), "OUT_OF_RANGE");
    expectVhdxError(() => table.sectorBitmapState(2), "OUT_OF_RANGE");
  });

  it("reads the missing last bitmap entry of a dynamic disk with a full last chunk as NOT_PRESENT", () => {
    const geometry = computeGeometry({
      virtualSize: 8 * GiB,
      blockSize: 256 * MiB,
      logicalSectorSize: 512,
      hasParent: false,
    });
    const bytes = new Uint8Array(geometry.batByteLength + 8);
    writeEntry(bytes, geometry.batEntryCount, 6, 9); // past the BAT: must not be read
    const table = new BatTable(bytes, geometry);
    expect(table.sectorBitmapState(1)).toBe(0);
    expect(table.sectorBitmapFileOffset(1)).toBe(0);
    expect(table.sectorBitmapState(0)).toBe(0);
  });
});

describe("BatTable.window: part of the BAT", () => {
  // 1 GiB of 1 MiB blocks: 1024 payload entries, chunk ratio 4096, so one chunk and its bitmap entry.
  const geometry = computeGeometry({ virtualSize: GiB, blockSize: MiB, logicalSectorSize: 512, hasParent: true });

  function wholeAndWindow(first: number, count: number) {
    const next = random(7);
    const bytes = new Uint8Array(geometry.batByteLength);
    for (let index = 0; index < geometry.batEntryCount; index++) writeEntry(bytes, index, next(8), next(2 ** 20));
    const whole = new BatTable(bytes, geometry, { regionFileOffset: 3 * MiB });
    const window = BatTable.window(bytes.slice(first * 8, (first + count) * 8), geometry, {
      firstEntry: first,
      regionFileOffset: 3 * MiB,
    });
    return { whole, window };
  }

  it("reads every entry it holds as the whole table does, by absolute index", () => {
    const { whole, window } = wholeAndWindow(100, 300);
    expect([window.firstEntry, window.endEntry]).toEqual([100, 400]);
    for (let index = 100; index < 400; index++) {
      expect([window.state(index), window.fileOffsetMB(index), window.entryFileOffset(index)]).toEqual([
        whole.state(index),
        whole.fileOffsetMB(index),
        whole.entryFileOffset(index),
      ]);
    }
    expect(window.payloadState(250)).toBe(whole.payloadState(250));
  });

  it("refuses entries outside the window with OUT_OF_RANGE, naming the window", () => {
    const { window } = wholeAndWindow(100, 300);
    const error = expectVhdxError(() => window.state(99), "OUT_OF_RANGE");
    expect(error.message).toContain("100..399");
    expectVhdxError(() => window.fileOffset(400), "OUT_OF_RANGE");
    expectVhdxError(() => window.setEntry(400, 6, 1), "OUT_OF_RANGE");
  });

  it("ends at the end of the BAT however many bytes it is given, and reads the last chunk's bitmap entry", () => {
    const last = geometry.batEntryCount - 1;
    const { whole, window } = wholeAndWindow(last - 10, 11);
    expect(window.endEntry).toBe(geometry.batEntryCount);
    const roomy = BatTable.window(new Uint8Array(4096), geometry, { firstEntry: last - 10 });
    expect(roomy.endEntry).toBe(geometry.batEntryCount);
    expect(window.sectorBitmapState(0)).toBe(whole.sectorBitmapState(0));
  });

  it("writes entries at their place in the window", () => {
    const { window } = wholeAndWindow(8, 16);
    window.setEntry(10, 6, 77);
    expect(readEntry(window.bytes, 2)).toBe((77n << 20n) | 6n);
  });

  it("takes a first entry only inside the BAT", () => {
    expect(() => BatTable.window(new Uint8Array(8), geometry, { firstEntry: -1 })).toThrow(TypeError);
    expect(() => BatTable.window(new Uint8Array(8), geometry, { firstEntry: geometry.batEntryCount + 1 })).toThrow(
      TypeError,
    );
  });
});
