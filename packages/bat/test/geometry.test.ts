import { describe, expect, it } from "vitest";
import {
  chunkOfBlock,
  computeGeometry,
  type GeometryInput,
  payloadBatIndex,
  sectorBitmapBatIndex,
} from "../src/index.js";
import { expectVhdxError, GiB, MiB, random, TiB } from "./helpers.js";

/**
 * The BAT written out entry by entry: each chunk is chunkRatio payload slots
 * then one bitmap slot. Fixed and dynamic files stop after the last payload
 * block's entry; differencing files after the bitmap of the last chunk.
 */
function bruteForceLayout(payloadBlocks: number, chunkRatio: number, hasParent: boolean) {
  const payload: number[] = [];
  const bitmap: number[] = [];
  let index = 0;
  let lastPayload = -1;
  while (payload.length < payloadBlocks) {
    for (let slot = 0; slot < chunkRatio; slot++, index++) {
      if (payload.length < payloadBlocks) {
        payload.push(index);
        lastPayload = index;
      }
    }
    bitmap.push(index++);
  }
  return { payload, bitmap, entries: hasParent ? index : lastPayload + 1 };
}

describe("computeGeometry at the edges", () => {
  it("sizes a 64 TiB disk with 1 MiB blocks and 512-byte sectors", () => {
    const g = computeGeometry({ virtualSize: 64 * TiB, blockSize: MiB, logicalSectorSize: 512, hasParent: false });
    expect(g.chunkRatio).toBe(4096); // 2^23 * 2^9 / 2^20
    expect(g.chunkSize).toBe(4 * GiB);
    expect(g.sectorsPerBlock).toBe(2048);
    expect(g.payloadBlockCount).toBe(67108864); // 2^46 / 2^20
    expect(g.sectorBitmapBlockCount).toBe(16384); // 2^26 / 2^12
    expect(g.batEntryCount).toBe(67108864 + 16383); // + Fl((2^26 - 1) / 4096)
    expect(g.batByteLength).toBe((67108864 + 16383) * 8);
    // The last chunk is full, so its bitmap entry is past the end of the BAT.
    expect(sectorBitmapBatIndex(g, 16383)).toBe(g.batEntryCount);
    expect(payloadBatIndex(g, 67108863)).toBe(g.batEntryCount - 1);
  });

  it("sizes the same disk as a differencing disk", () => {
    const g = computeGeometry({ virtualSize: 64 * TiB, blockSize: MiB, logicalSectorSize: 512, hasParent: true });
    expect(g.batEntryCount).toBe(16384 * 4097);
    expect(sectorBitmapBatIndex(g, 16383)).toBe(g.batEntryCount - 1);
  });

  it("uses a chunk ratio of 32768 with 4 KiB sectors and 1 MiB blocks", () => {
    const g = computeGeometry({ virtualSize: 64 * TiB, blockSize: MiB, logicalSectorSize: 4096, hasParent: false });
    expect(g.chunkRatio).toBe(32768);
    expect(g.chunkSize).toBe(32 * GiB);
    expect(g.sectorsPerBlock).toBe(256);
    expect(g.sectorBitmapBlockCount).toBe(2048);
    expect(g.batEntryCount).toBe(67108864 + 2047);
  });

  it("uses a chunk ratio of 16 with 256 MiB blocks and 512-byte sectors", () => {
    const g = computeGeometry({
      virtualSize: 10 * GiB,
      blockSize: 256 * MiB,
      logicalSectorSize: 512,
      hasParent: false,
    });
    expect(g.chunkRatio).toBe(16);
    expect(g.chunkSize).toBe(4 * GiB);
    expect(g.payloadBlockCount).toBe(40);
    expect(g.sectorBitmapBlockCount).toBe(3);
    expect(g.batEntryCount).toBe(40 + 2);
    const diff = computeGeometry({
      virtualSize: 10 * GiB,
      blockSize: 256 * MiB,
      logicalSectorSize: 512,
      hasParent: true,
    });
    expect(diff.batEntryCount).toBe(3 * 17);
  });

  it("uses a chunk ratio of 128 with 256 MiB blocks and 4 KiB sectors", () => {
    const g = computeGeometry({ virtualSize: 4096, blockSize: 256 * MiB, logicalSectorSize: 4096, hasParent: true });
    expect(g.chunkRatio).toBe(128);
    expect(g.payloadBlockCount).toBe(1);
    expect(g.batEntryCount).toBe(129);
  });

  it("counts the last partial block", () => {
    const g = computeGeometry({ virtualSize: 3 * MiB + 512, blockSize: MiB, logicalSectorSize: 512, hasParent: false });
    expect(g.payloadBlockCount).toBe(4);
    expect(g.batEntryCount).toBe(4);
    expect(payloadBatIndex(g, 3)).toBe(3);
    const one = computeGeometry({ virtualSize: 512, blockSize: 32 * MiB, logicalSectorSize: 512, hasParent: false });
    expect(one.payloadBlockCount).toBe(1);
    expect(one.batEntryCount).toBe(1);
  });

  it("places the first block of the second chunk after the first bitmap entry", () => {
    const g = computeGeometry({ virtualSize: 8 * GiB, blockSize: 256 * MiB, logicalSectorSize: 512, hasParent: false });
    expect(payloadBatIndex(g, 15)).toBe(15);
    expect(sectorBitmapBatIndex(g, 0)).toBe(16);
    expect(payloadBatIndex(g, 16)).toBe(17);
    expect(chunkOfBlock(g, 15)).toBe(0);
    expect(chunkOfBlock(g, 16)).toBe(1);
    // 32 blocks fill two chunks: the dynamic BAT ends at the last payload entry.
    expect(g.batEntryCount).toBe(32 + 1);
    expect(payloadBatIndex(g, 31)).toBe(32);
    expect(sectorBitmapBatIndex(g, 1)).toBe(33);
  });

  it("keeps the input fields", () => {
    const input: GeometryInput = { virtualSize: 5 * MiB, blockSize: 2 * MiB, logicalSectorSize: 4096, hasParent: true };
    expect(computeGeometry(input)).toMatchObject(input);
  });
});

describe("computeGeometry refuses bad parameters", () => {
  const good: GeometryInput = { virtualSize: 4 * MiB, blockSize: MiB, logicalSectorSize: 512, hasParent: false };

  it.each([[3 * MiB], [MiB / 2], [512 * MiB], [0], [-MiB], [MiB + 0.5], [NaN], [2 ** 32]])(
    "block size %s",
    (blockSize) => {
      expectVhdxError(() => computeGeometry({ ...good, blockSize }), "BAD_FIELD", "BlockSize");
    },
  );

  it.each([[0], [1024], [520], [8192], [512.5]])("sector size %s", (logicalSectorSize) => {
    expectVhdxError(() => computeGeometry({ ...good, logicalSectorSize }), "BAD_FIELD", "LogicalSectorSize");
  });

  it.each([[0], [-512], [1000], [1.5], [64 * TiB + 512], [Infinity], [NaN]])("virtual size %s", (virtualSize) => {
    expectVhdxError(() => computeGeometry({ ...good, virtualSize }), "BAD_FIELD", "VirtualDiskSize");
  });

  it("refuses a size that is a multiple of 512 but not of a 4 KiB sector", () => {
    expectVhdxError(() => computeGeometry({ ...good, logicalSectorSize: 4096, virtualSize: 4096 + 512 }), "BAD_FIELD");
  });

  it("accepts exactly 64 TiB and the block size limits", () => {
    expect(computeGeometry({ ...good, virtualSize: 64 * TiB }).virtualSize).toBe(64 * TiB);
    expect(computeGeometry({ ...good, blockSize: 256 * MiB }).chunkRatio).toBe(16);
  });

  it("throws TypeError for arguments of the wrong type", () => {
    expect(() => computeGeometry({ ...good, virtualSize: "4" as unknown as number })).toThrow(TypeError);
    expect(() => computeGeometry({ ...good, hasParent: 1 as unknown as boolean })).toThrow(TypeError);
    expect(() => computeGeometry(null as unknown as GeometryInput)).toThrow(TypeError);
  });

  it("refuses indices outside the disk", () => {
    const g = computeGeometry(good);
    for (const block of [-1, 4, 1.5, NaN]) expectVhdxError(() => payloadBatIndex(g, block), "OUT_OF_RANGE");
    for (const chunk of [-1, 1, 0.5]) expectVhdxError(() => sectorBitmapBatIndex(g, chunk), "OUT_OF_RANGE");
    expectVhdxError(() => chunkOfBlock(g, 4), "OUT_OF_RANGE");
  });
});

describe("geometry against a brute-force BAT layout", () => {
  it("agrees on many random geometries", () => {
    const next = random(42);
    for (let round = 0; round < 300; round++) {
      const blockSize = MiB * 2 ** next(9);
      const logicalSectorSize = next(2) ? 4096 : 512;
      const hasParent = next(2) === 1;
      const chunkRatio = (2 ** 23 * logicalSectorSize) / blockSize;
      // Block counts that stress the chunk edges: small, around a multiple of the chunk ratio, or anywhere below 3 chunks.
      const pick = next(3);
      const blocks =
        pick === 0
          ? 1 + next(10)
          : pick === 1
            ? Math.max(1, (1 + next(3)) * chunkRatio + next(3) - 1)
            : 1 + next(Math.min(3 * chunkRatio, 40000));
      const sectorsPerBlock = blockSize / logicalSectorSize;
      const lastBlockSectors = 1 + next(sectorsPerBlock);
      const virtualSize = (blocks - 1) * blockSize + lastBlockSectors * logicalSectorSize;
      const g = computeGeometry({ virtualSize, blockSize, logicalSectorSize, hasParent });
      const context = JSON.stringify({ virtualSize, blockSize, logicalSectorSize, hasParent });

      let counted = 0;
      for (let offset = 0; offset < virtualSize; offset += blockSize) counted++;
      const layout = bruteForceLayout(counted, chunkRatio, hasParent);
      expect(g.chunkRatio, context).toBe(chunkRatio);
      expect(g.payloadBlockCount, context).toBe(counted);
      expect(g.sectorBitmapBlockCount, context).toBe(layout.bitmap.length);
      expect(g.batEntryCount, context).toBe(layout.entries);
      expect(g.batByteLength, context).toBe(layout.entries * 8);
      for (let block = 0; block < counted; block++) {
        if (payloadBatIndex(g, block) !== layout.payload[block]) {
          expect(payloadBatIndex(g, block), `${context} block ${block}`).toBe(layout.payload[block]);
        }
      }
      layout.bitmap.forEach((index, chunk) => expect(sectorBitmapBatIndex(g, chunk), context).toBe(index));
    }
  });
});
