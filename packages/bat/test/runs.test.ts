import { describe, expect, it } from "vitest";
import {
  BatTable,
  type BatGeometry,
  computeGeometry,
  type GeometryInput,
  mapRange,
  type ReadRun,
  setSectorRange,
  splitPartialRun,
} from "../src/index.js";
import { expectVhdxError, GiB, MiB, random, writeEntry } from "./helpers.js";

interface Entry {
  state: number;
  mb: number;
}

/** A disk as plain data: what the model reads, and the BAT bytes built from it. */
interface Disk {
  geometry: BatGeometry;
  blocks: Entry[];
  bitmapEntries: Entry[];
  bitmaps: Uint8Array[];
  table: BatTable;
}

const REGION = 2 * MiB;

function buildDisk(
  input: GeometryInput,
  blocks: Entry[],
  bitmapEntries: Entry[] = [],
  bitmaps: Uint8Array[] = [],
): Disk {
  const geometry = computeGeometry(input);
  const bytes = new Uint8Array(geometry.batByteLength);
  const ratio = geometry.chunkRatio;
  blocks.forEach(({ state, mb }, block) => writeEntry(bytes, block + Math.floor(block / ratio), state, mb));
  bitmapEntries.forEach(({ state, mb }, chunk) => {
    const index = chunk * (ratio + 1) + ratio;
    // A dynamic disk whose last chunk is full has no entry for that chunk's bitmap.
    if (index < geometry.batEntryCount) writeEntry(bytes, index, state, mb);
  });
  return {
    geometry,
    blocks,
    bitmapEntries,
    bitmaps,
    table: new BatTable(bytes, geometry, { regionFileOffset: REGION }),
  };
}

const e = (state: number, mb = 0): Entry => ({ state, mb });

function collect(table: BatTable, offset: number, length: number): ReadRun[] {
  const runs: ReadRun[] = [];
  mapRange(table, offset, length, (run) => runs.push(run));
  return runs;
}

/** mapRange, with partial runs split by their chunk's bitmap: what the image reader does. */
function resolve(disk: Disk, offset: number, length: number): ReadRun[] {
  const runs: ReadRun[] = [];
  mapRange(disk.table, offset, length, (run) => {
    if (run.kind !== "partial") runs.push(run);
    else
      splitPartialRun(run, disk.bitmaps[Math.floor(run.block / disk.geometry.chunkRatio)]!, disk.geometry, (r) =>
        runs.push(r),
      );
  });
  return runs;
}

type Piece = { kind: string; virtualOffset: number; length: number; fileOffset: number };

/** Merges neighbours of one kind (data only when the file offsets continue). */
function merge(pieces: Piece[]): Piece[] {
  const out: Piece[] = [];
  for (const { kind, virtualOffset, length, fileOffset } of pieces) {
    const last = out[out.length - 1];
    if (last && last.kind === kind && (kind !== "data" || last.fileOffset + last.length === fileOffset))
      last.length += length;
    else out.push({ kind, virtualOffset, length, fileOffset });
  }
  return out;
}

/** The model: one sector (or the part of it in the range) at a time, straight from the spec's rules. */
function naiveRuns(disk: Disk, offset: number, length: number): Piece[] {
  const { blockSize, logicalSectorSize, hasParent, chunkSize } = disk.geometry;
  const pieces: Piece[] = [];
  for (let position = offset; position < offset + length; ) {
    const next = Math.min(offset + length, (Math.floor(position / logicalSectorSize) + 1) * logicalSectorSize);
    const block = Math.floor(position / blockSize);
    const { state, mb } = disk.blocks[block]!;
    const inFile = mb * MiB + (position - block * blockSize);
    let kind: string;
    if (state === 6) kind = "data";
    else if (state === 0) kind = hasParent ? "parent" : "zero";
    else if (state === 7) {
      const bitmap = disk.bitmaps[Math.floor(position / chunkSize)]!;
      const sector = Math.floor((position % chunkSize) / logicalSectorSize);
      kind = (bitmap[Math.floor(sector / 8)]! >> (sector % 8)) & 1 ? "data" : "parent";
    } else kind = "zero";
    pieces.push({ kind, virtualOffset: position, length: next - position, fileOffset: kind === "data" ? inFile : -1 });
    position = next;
  }
  return merge(pieces);
}

const plain = (runs: ReadRun[]) =>
  runs.map(({ kind, virtualOffset, length, fileOffset }) => ({ kind, virtualOffset, length, fileOffset }));

describe("mapRange on a dynamic disk", () => {
  const input = { virtualSize: 6 * MiB, blockSize: MiB, logicalSectorSize: 512, hasParent: false };

  it("merges contiguous present blocks into one run and zero blocks into another", () => {
    const disk = buildDisk(input, [e(6, 5), e(6, 6), e(6, 7), e(0), e(2), e(3, 40)]);
    expect(collect(disk.table, 0, 6 * MiB)).toEqual([
      { kind: "data", virtualOffset: 0, length: 3 * MiB, fileOffset: 5 * MiB, block: 0 },
      { kind: "zero", virtualOffset: 3 * MiB, length: 3 * MiB, fileOffset: -1, block: 3 },
    ]);
  });

  it("keeps present blocks apart when their file offsets are not contiguous", () => {
    const disk = buildDisk(input, [e(6, 5), e(6, 7), e(6, 6), e(6, 8), e(1), e(5, 9)]);
    expect(plain(collect(disk.table, 0, 6 * MiB))).toEqual([
      { kind: "data", virtualOffset: 0, length: MiB, fileOffset: 5 * MiB },
      { kind: "data", virtualOffset: MiB, length: MiB, fileOffset: 7 * MiB },
      { kind: "data", virtualOffset: 2 * MiB, length: MiB, fileOffset: 6 * MiB },
      { kind: "data", virtualOffset: 3 * MiB, length: MiB, fileOffset: 8 * MiB },
      { kind: "zero", virtualOffset: 4 * MiB, length: 2 * MiB, fileOffset: -1 },
    ]);
  });

  it("handles unaligned starts and ends", () => {
    const disk = buildDisk(input, [e(6, 5), e(6, 6), e(2), e(6, 20), e(0), e(0)]);
    expect(collect(disk.table, 1000, 3 * MiB + 7 - 1000)).toEqual([
      { kind: "data", virtualOffset: 1000, length: 2 * MiB - 1000, fileOffset: 5 * MiB + 1000, block: 0 },
      { kind: "zero", virtualOffset: 2 * MiB, length: MiB, fileOffset: -1, block: 2 },
      { kind: "data", virtualOffset: 3 * MiB, length: 7, fileOffset: 20 * MiB, block: 3 },
    ]);
    expect(collect(disk.table, MiB + 3, 1)).toEqual([
      { kind: "data", virtualOffset: MiB + 3, length: 1, fileOffset: 6 * MiB + 3, block: 1 },
    ]);
  });

  it("maps the last, partial block", () => {
    const disk = buildDisk({ ...input, virtualSize: 3 * MiB + 1024 }, [e(0), e(0), e(0), e(6, 9)]);
    expect(collect(disk.table, 3 * MiB, 1024)).toEqual([
      { kind: "data", virtualOffset: 3 * MiB, length: 1024, fileOffset: 9 * MiB, block: 3 },
    ]);
    expect(collect(disk.table, 0, 3 * MiB + 1024).map((run) => run.length)).toEqual([3 * MiB, 1024]);
  });

  it("calls visit for nothing when the length is 0, even at the end of the disk", () => {
    const disk = buildDisk(input, [e(6, 5)]);
    expect(collect(disk.table, 6 * MiB, 0)).toEqual([]);
  });

  it("hands out fresh run objects that the visitor may keep", () => {
    const disk = buildDisk(input, [e(6, 5), e(0), e(6, 9)]);
    const runs = collect(disk.table, 0, 3 * MiB);
    expect(new Set(runs).size).toBe(3);
  });
});

describe("mapRange on a differencing disk", () => {
  const input = { virtualSize: 8 * GiB + 3 * 256 * MiB, blockSize: 256 * MiB, logicalSectorSize: 512, hasParent: true };

  it("reads NOT_PRESENT from the parent, ZERO as zeros, and never merges partial blocks", () => {
    const blocks = [e(0), e(0), e(2), e(7, 10), e(7, 266), e(6, 522), e(1)];
    const disk = buildDisk(input, blocks, [e(6, 3)]);
    const B = 256 * MiB;
    expect(plain(collect(disk.table, 0, 7 * B))).toEqual([
      { kind: "parent", virtualOffset: 0, length: 2 * B, fileOffset: -1 },
      { kind: "zero", virtualOffset: 2 * B, length: B, fileOffset: -1 },
      { kind: "partial", virtualOffset: 3 * B, length: B, fileOffset: 10 * MiB },
      { kind: "partial", virtualOffset: 4 * B, length: B, fileOffset: 266 * MiB },
      { kind: "data", virtualOffset: 5 * B, length: B, fileOffset: 522 * MiB },
      { kind: "zero", virtualOffset: 6 * B, length: B, fileOffset: -1 },
    ]);
  });

  it("splits a partial run by its bitmap, with unaligned ends, in the second chunk", () => {
    const blocks: Entry[] = Array.from({ length: 35 }, () => e(0));
    blocks[16] = e(7, 100); // the first block of chunk 1
    const bitmap = new Uint8Array(MiB);
    setSectorRange(bitmap, 0, 2, true); // sectors 0-1 present
    setSectorRange(bitmap, 5, 3, true); // sectors 5-7 present
    const disk = buildDisk(input, blocks, [e(0), e(6, 4), e(0)], [new Uint8Array(0), bitmap]);
    const start = 16 * 256 * MiB; // = 4 GiB, the chunk size
    const runs = resolve(disk, start + 100, 8 * 512 - 100 - 10);
    expect(runs).toEqual([
      { kind: "data", virtualOffset: start + 100, length: 1024 - 100, fileOffset: 100 * MiB + 100, block: 16 },
      { kind: "parent", virtualOffset: start + 1024, length: 3 * 512, fileOffset: -1, block: 16 },
      { kind: "data", virtualOffset: start + 2560, length: 3 * 512 - 10, fileOffset: 100 * MiB + 2560, block: 16 },
    ]);
    // Inside one sector.
    expect(resolve(disk, start + 5 * 512 + 7, 3)).toEqual([
      { kind: "data", virtualOffset: start + 5 * 512 + 7, length: 3, fileOffset: 100 * MiB + 5 * 512 + 7, block: 16 },
    ]);
  });

  it("splits a partial run that ends exactly at the end of its chunk", () => {
    const blocks: Entry[] = Array.from({ length: 16 }, () => e(0));
    blocks[15] = e(7, 50); // the last block of chunk 0
    const bitmap = new Uint8Array(MiB);
    setSectorRange(bitmap, 2 ** 23 - 3, 3, true);
    const disk = buildDisk(input, blocks, [e(6, 4)], [bitmap]);
    const chunkEnd = 4 * GiB;
    expect(resolve(disk, chunkEnd - 4096, 4096)).toEqual([
      { kind: "parent", virtualOffset: chunkEnd - 4096, length: 5 * 512, fileOffset: -1, block: 15 },
      {
        kind: "data",
        virtualOffset: chunkEnd - 1536,
        length: 1536,
        fileOffset: 50 * MiB + 256 * MiB - 1536,
        block: 15,
      },
    ]);
  });

  it("refuses to split anything but a partial run that fits its bitmap", () => {
    const disk = buildDisk(input, [e(7, 10)], [e(6, 3)]);
    const [run] = collect(disk.table, 0, 4096);
    expect(() => splitPartialRun({ ...run!, kind: "data" }, new Uint8Array(MiB), disk.geometry, () => {})).toThrow(
      TypeError,
    );
    expectVhdxError(() => splitPartialRun(run!, new Uint8Array(0), disk.geometry, () => {}), "TRUNCATED");
    expectVhdxError(
      () => splitPartialRun({ ...run!, length: 4 * GiB + 1 }, new Uint8Array(MiB), disk.geometry, () => {}),
      "OUT_OF_RANGE",
    );
  });
});

describe("mapRange refuses bad entries and bad requests", () => {
  const input = { virtualSize: 4 * MiB, blockSize: MiB, logicalSectorSize: 512, hasParent: false };

  it("throws CORRUPT_BAT with the entry's file offset for a present block at FileOffsetMB 0", () => {
    const disk = buildDisk(input, [e(6, 5), e(0), e(6, 0)]);
    const error = expectVhdxError(() => collect(disk.table, 0, 4 * MiB), "CORRUPT_BAT", "FileOffsetMB");
    expect(error.offset).toBe(REGION + 2 * 8);
    expect(error.message).toContain("@0x200010");
    // Entries outside the range are not looked at.
    expect(collect(disk.table, 0, 2 * MiB)).toHaveLength(2);
  });

  it("throws CORRUPT_BAT for the reserved state 4 and for PARTIALLY_PRESENT without a parent", () => {
    const four = buildDisk(input, [e(0), e(4)]);
    expect(expectVhdxError(() => collect(four.table, MiB, 1), "CORRUPT_BAT", "State").offset).toBe(REGION + 8);
    const seven = buildDisk(input, [e(7, 5)]);
    expect(expectVhdxError(() => collect(seven.table, 0, 1), "CORRUPT_BAT", "State").offset).toBe(REGION);
  });

  it("throws CORRUPT_BAT for a file offset past 2^53", () => {
    const disk = buildDisk(input, [e(6, 2 ** 40)]);
    expectVhdxError(() => collect(disk.table, 0, 1), "CORRUPT_BAT", "FileOffsetMB");
  });

  it("throws CORRUPT_BAT when a partial block's sector bitmap is missing", () => {
    const diff = { ...input, hasParent: true };
    const missing = buildDisk(diff, [e(7, 5)], [e(0)]);
    const error = expectVhdxError(() => collect(missing.table, 0, 1), "CORRUPT_BAT");
    expect(error.offset).toBe(REGION + 4096 * 8); // the bitmap entry follows 4096 payload entries
    const atZero = buildDisk(diff, [e(7, 5)], [e(6, 0)]);
    expectVhdxError(() => collect(atZero.table, 0, 1), "CORRUPT_BAT");
  });

  it("has no offset in the error when the region's offset is unknown", () => {
    const geometry = computeGeometry(input);
    const bytes = new Uint8Array(geometry.batByteLength);
    writeEntry(bytes, 0, 6, 0);
    const error = expectVhdxError(() => collect(new BatTable(bytes, geometry), 0, 1), "CORRUPT_BAT");
    expect(error.offset).toBeUndefined();
  });

  it("throws OUT_OF_RANGE for requests outside the disk", () => {
    const disk = buildDisk(input, []);
    for (const [offset, length] of [
      [-1, 1],
      [0, 4 * MiB + 1],
      [4 * MiB, 1],
      [0.5, 1],
      [0, 1.5],
      [0, -1],
      [NaN, 1],
    ]) {
      expectVhdxError(() => collect(disk.table, offset!, length!), "OUT_OF_RANGE");
    }
    expect(() => mapRange(disk.table, 0, 1, undefined as unknown as (run: ReadRun) => void)).toThrow(TypeError);
  });
});

describe("mapRange and splitPartialRun against a per-sector model", () => {
  const shapes = [
    { blockSize: 256 * MiB, logicalSectorSize: 512 }, // chunk ratio 16
    { blockSize: 128 * MiB, logicalSectorSize: 512 }, // 32
    { blockSize: 256 * MiB, logicalSectorSize: 4096 }, // 128
    { blockSize: MiB, logicalSectorSize: 512 },
    { blockSize: 2 * MiB, logicalSectorSize: 4096 },
    { blockSize: 32 * MiB, logicalSectorSize: 512 },
  ];

  function randomDisk(next: (limit: number) => number, round: number): Disk {
    const { blockSize, logicalSectorSize } = shapes[round % shapes.length]!;
    const hasParent = next(3) !== 0;
    const ratio = (2 ** 23 * logicalSectorSize) / blockSize;
    const count = 1 + next(ratio <= 32 ? 2 * ratio + 3 : 12);
    const virtualSize = (count - 1) * blockSize + (1 + next(blockSize / logicalSectorSize)) * logicalSectorSize;
    const states = hasParent ? [0, 1, 2, 3, 5, 6, 7, 7] : [0, 1, 2, 3, 5, 6, 6];
    let nextMB = 8;
    const blocks = Array.from({ length: count }, () => {
      const state = states[next(states.length)]!;
      if (state < 6) return e(state, next(3) === 0 ? 1 + next(1000) : 0);
      if (next(4) === 0) nextMB += blockSize / MiB; // a gap breaks contiguity
      const entry = e(state, nextMB);
      nextMB += blockSize / MiB;
      return entry;
    });
    const chunks = Math.ceil(count / ratio);
    const bitmaps: Uint8Array[] = [];
    const bitmapEntries: Entry[] = [];
    for (let chunk = 0; chunk < chunks; chunk++) {
      const bitmap = new Uint8Array(MiB);
      for (let sector = 0, present = next(2) === 1; sector < 2 ** 23; present = !present) {
        const run = Math.min(2 ** 23 - sector, 1 + next(next(3) === 0 ? 20 : 6000));
        setSectorRange(bitmap, sector, run, present);
        sector += run;
      }
      bitmaps.push(bitmap);
      bitmapEntries.push(hasParent ? e(6, 2 + chunk) : e(0));
    }
    return buildDisk({ virtualSize, blockSize, logicalSectorSize, hasParent }, blocks, bitmapEntries, bitmaps);
  }

  function randomRequest(next: (limit: number) => number, geometry: BatGeometry): [number, number] {
    const { virtualSize, blockSize, payloadBlockCount } = geometry;
    let start =
      next(2) === 0
        ? next(virtualSize)
        : Math.min(virtualSize - 1, Math.max(0, next(payloadBlockCount + 1) * blockSize + next(8192) - 4096));
    if (next(5) === 0) start -= start % 512;
    const longest = Math.min(8 * MiB, virtualSize - start);
    const length = next(3) === 0 ? next(Math.min(2000, longest) + 1) : next(longest + 1);
    return [start, length];
  }

  it("agrees on random tables, bitmaps and ranges", () => {
    const next = random(2024);
    for (let round = 0; round < 48; round++) {
      const disk = randomDisk(next, round);
      for (let request = 0; request < 25; request++) {
        const [offset, length] = randomRequest(next, disk.geometry);
        const context = `round ${round} request ${offset}+${length} ${JSON.stringify(disk.geometry)}`;
        const mapped = collect(disk.table, offset, length);
        checkMapRangeShape(mapped, disk.geometry, offset, length, context);
        const runs = resolve(disk, offset, length);
        checkTiling(runs, disk.geometry, offset, length, context);
        expect(merge(plain(runs)), context).toEqual(naiveRuns(disk, offset, length));
      }
    }
  });
});

/** Runs cover the range in order with no gaps, and each names the block it starts in. */
function checkTiling(runs: ReadRun[], geometry: BatGeometry, offset: number, length: number, context: string): void {
  let position = offset;
  for (const run of runs) {
    expect(run.virtualOffset, context).toBe(position);
    expect(run.length, context).toBeGreaterThan(0);
    expect(run.block, context).toBe(Math.floor(run.virtualOffset / geometry.blockSize));
    position += run.length;
  }
  expect(position, context).toBe(offset + length);
}

/** mapRange's own output: tiled, maximal (nothing left to merge), partial runs inside one block. */
function checkMapRangeShape(
  runs: ReadRun[],
  geometry: BatGeometry,
  offset: number,
  length: number,
  context: string,
): void {
  checkTiling(runs, geometry, offset, length, context);
  runs.forEach((run, i) => {
    if (run.kind === "partial")
      expect(Math.floor((run.virtualOffset + run.length - 1) / geometry.blockSize), context).toBe(run.block);
    if (run.kind !== "data" && run.kind !== "partial") expect(run.fileOffset, context).toBe(-1);
    const previous = runs[i - 1];
    if (previous === undefined || previous.kind !== run.kind || run.kind === "partial") return;
    expect(
      run.kind === "data" && previous.fileOffset + previous.length !== run.fileOffset,
      `${context}: runs ${i - 1} and ${i} should merge`,
    ).toBe(true);
  });
}
