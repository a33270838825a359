// discard: whole blocks give up their space (UNMAPPED; NOT_PRESENT with their
// sector bitmap bits cleared in a differencing disk), and what cannot be freed
// is kept or written as zeros as asked, and counted. Checked against a plain
// model of the disk, the BAT and bitmaps themselves, and the oracles: qemu-img
// check and compare for 512-byte dynamic images, libvhdi (pyvhdi) and 7-Zip
// for differencing children and 4 KiB sectors.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { mkdirSync, writeFileSync } from "node:fs";
import { STATE, buildVhdx } from "@vhdx-tools/fixtures";
import { oracle, pyvhdiRead, qemuCheck, run, tempDir } from "@vhdx-tools/oracles";
import {
  PAYLOAD_BLOCK_FULLY_PRESENT,
  PAYLOAD_BLOCK_NOT_PRESENT,
  PAYLOAD_BLOCK_UNMAPPED,
  SB_BLOCK_PRESENT,
} from "@vhdx/structs";
import { afterAll, describe, expect, it } from "vitest";
import { MemorySource, type VhdxImage, createImage, openImage } from "../src/index.js";

const MiB = 1 << 20;
const dir = tempDir("vhdx-discard-");
afterAll(() => dir.remove());

/** The first offset where the two differ (or where one ends), -1 when equal: toEqual is slow on megabytes. */
function firstDifference(actual: Uint8Array, expected: Uint8Array): number {
  const length = Math.min(actual.length, expected.length);
  const differs = Buffer.compare(actual, expected) !== 0;
  if (!differs) return -1;
  for (let i = 0; i < length; i++) if (actual[i] !== expected[i]) return i;
  return length;
}

/** A byte pattern that never holds a zero. */
function pattern(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = 1 + ((i * 31 + seed * 7) % 251);
  return bytes;
}

async function dynamicImage(size: number, blockSize: number, logicalSectorSize: 512 | 4096 = 512) {
  const source = new MemorySource();
  const image = await createImage(source, { size, blockSize, logicalSectorSize });
  return { source, image };
}

/** A spec-built parent with data everywhere and a child of ours over it (1 MiB blocks). */
async function chain(size: number, logicalSectorSize: 512 | 4096 = 512) {
  const blocks = Object.fromEntries(Array.from({ length: size / MiB }, (_, b) => [b, { state: STATE.FULLY_PRESENT }]));
  const parent = buildVhdx({ virtualSize: size, blockSize: MiB, logicalSectorSize, type: "dynamic", blocks });
  const parentImage = await openImage(new MemorySource(parent.bytes, { readOnly: true }));
  const source = new MemorySource();
  const image = await createImage(source, {
    type: "differencing",
    parent: parentImage,
    parentLocator: { relative_path: "parent.vhdx" },
    blockSize: MiB,
  });
  return { source, image, parent, parentImage };
}

function bitsOfBlock(bitmap: Uint8Array, block: number, sectorsPerBlock: number, chunkRatio: number): number {
  let set = 0;
  const first = (block % chunkRatio) * sectorsPerBlock;
  for (let bit = first; bit < first + sectorsPerBlock; bit++) set += (bitmap[bit >>> 3]! >>> (bit & 7)) & 1;
  return set;
}

async function presentBits(image: VhdxImage, source: MemorySource, block: number): Promise<number> {
  const table = await image.bat();
  const { chunkRatio, sectorsPerBlock } = image.geometry;
  const chunk = Math.floor(block / chunkRatio);
  if (table.sectorBitmapState(chunk) !== SB_BLOCK_PRESENT) return 0;
  const at = table.sectorBitmapFileOffset(chunk);
  return bitsOfBlock(source.bytes().subarray(at, at + MiB), block, sectorsPerBlock, chunkRatio);
}

describe("discard in a dynamic disk", () => {
  it("frees whole blocks, keeps or zeros the parts, and counts each", async () => {
    const { source, image } = await dynamicImage(8 * MiB, MiB);
    const model = pattern(8 * MiB, 1);
    await image.write(0, model);
    const kept = await image.discard(MiB / 2, 2 * MiB);
    expect(kept).toEqual({ freedBytes: MiB, zeroedBytes: 0, keptBytes: MiB });
    model.fill(0, MiB, 2 * MiB);
    const zeroed = await image.discard(3 * MiB + 4096, 3 * MiB - 8192, { partial: "zero" });
    expect(zeroed).toEqual({ freedBytes: MiB, zeroedBytes: 2 * MiB - 8192, keptBytes: 0 });
    model.fill(0, 3 * MiB + 4096, 6 * MiB - 4096);
    // Already unmapped: nothing more to free.
    expect(await image.discard(MiB, MiB)).toEqual({ freedBytes: 0, zeroedBytes: 0, keptBytes: 0 });
    expect(firstDifference(await image.read(0, 8 * MiB), model)).toBe(-1);
    await image.close();

    const reopened = await openImage(source);
    const table = await reopened.bat();
    expect([1, 4].map((b) => table.payloadState(b))).toEqual([PAYLOAD_BLOCK_UNMAPPED, PAYLOAD_BLOCK_UNMAPPED]);
    expect([0, 2, 3, 5].map((b) => table.payloadState(b))).toEqual(Array(4).fill(PAYLOAD_BLOCK_FULLY_PRESENT));
    expect(firstDifference(await reopened.read(0, 8 * MiB), model)).toBe(-1);
    await reopened.close();
  });

  it("frees the short last block of a disk whose size is not a whole number of blocks", async () => {
    const { image } = await dynamicImage(3 * MiB + 512, MiB);
    await image.write(0, pattern(3 * MiB + 512, 2));
    expect(await image.discard(3 * MiB, 512)).toEqual({ freedBytes: 512, zeroedBytes: 0, keptBytes: 0 });
    expect((await image.bat()).payloadState(3)).toBe(PAYLOAD_BLOCK_UNMAPPED);
    await image.close();
  });

  it("in a fixed disk frees nothing: the range is kept, or written as zeros", async () => {
    const source = new MemorySource();
    const image = await createImage(source, { size: 4 * MiB, blockSize: MiB, type: "fixed" });
    await image.write(0, pattern(4 * MiB, 3));
    expect(await image.discard(0, 2 * MiB)).toEqual({ freedBytes: 0, zeroedBytes: 0, keptBytes: 2 * MiB });
    expect(await image.discard(MiB, 2 * MiB, { partial: "zero" })).toEqual({
      freedBytes: 0,
      zeroedBytes: 2 * MiB,
      keptBytes: 0,
    });
    const table = await image.bat();
    expect(table.payloadState(1)).toBe(PAYLOAD_BLOCK_FULLY_PRESENT);
    expect(firstDifference(await image.read(MiB, 2 * MiB), new Uint8Array(2 * MiB))).toBe(-1);
    expect((await image.read(0, MiB))[5]).not.toBe(0);
    await image.close();
  });

  it("refuses a bad partial option and a range past the end", async () => {
    const { image } = await dynamicImage(2 * MiB, MiB);
    await expect(image.discard(0, MiB, { partial: "drop" as "keep" })).rejects.toThrow(TypeError);
    await expect(image.discard(MiB, 2 * MiB)).rejects.toMatchObject({ code: "OUT_OF_RANGE" });
    await image.close();
  });
});

describe("discard in a differencing disk", () => {
  it("makes whole blocks NOT_PRESENT with no present bits, reading from the parent again", async () => {
    const { source, image, parent, parentImage } = await chain(4 * MiB);
    await image.write(MiB + 512, pattern(4096, 4)); // block 1 partially present
    await image.write(2 * MiB, pattern(MiB, 5)); // block 2 fully present
    await image.flush();
    expect(await presentBits(image, source, 1)).toBeGreaterThan(0);
    const result = await image.discard(MiB, 2 * MiB);
    expect(result).toEqual({ freedBytes: 2 * MiB, zeroedBytes: 0, keptBytes: 0 });
    await image.close();

    const reopened = await openImage(source, { parents: [parentImage] });
    const table = await reopened.bat();
    expect([1, 2].map((b) => table.payloadState(b))).toEqual([PAYLOAD_BLOCK_NOT_PRESENT, PAYLOAD_BLOCK_NOT_PRESENT]);
    expect(await presentBits(reopened, source, 1)).toBe(0);
    expect(firstDifference(await reopened.read(0, 4 * MiB), parent.expected)).toBe(-1);
    await reopened.close();
    if (oracle("pyvhdi")) {
      // libvhdi reads the set bits of a NOT_PRESENT block as present sectors: it would read block 1's old data.
      const folder = join(dir.path, "not-present");
      mkdirSync(folder);
      writeFileSync(join(folder, "child.vhdx"), source.bytes());
      writeFileSync(join(folder, "parent.vhdx"), parent.bytes);
      const read = pyvhdiRead(join(folder, "child.vhdx"), [[0, 4 * MiB]], [join(folder, "parent.vhdx")]);
      expect(firstDifference(read, parent.expected)).toBe(-1);
    }
  });

  it("writes the parts as zeros (present sectors), which read as zeros and not from the parent", async () => {
    const { source, image, parent, parentImage } = await chain(4 * MiB);
    const result = await image.discard(MiB - 1024, MiB + 2048, { partial: "zero" });
    expect(result).toEqual({ freedBytes: 0, zeroedBytes: 2048, keptBytes: 0 });
    // Block 1 was NOT_PRESENT already: whole, it frees nothing.
    const expected = parent.expected.slice();
    expected.fill(0, MiB - 1024, MiB);
    expected.fill(0, 2 * MiB, 2 * MiB + 1024);
    expect(firstDifference(await image.read(0, 4 * MiB), expected)).toBe(-1);
    await image.close();
    const reopened = await openImage(source, { parents: [parentImage] });
    expect(firstDifference(await reopened.read(0, 4 * MiB), expected)).toBe(-1);
    await reopened.close();
  });
});

// ---------------------------------------------------------------- against a model and the oracles

type Op =
  | { kind: "write"; offset: number; length: number; seed: number }
  | { kind: "discard"; offset: number; length: number; partial: "keep" | "zero" };

/** Seeded operations over a disk of `size` bytes, sector-aligned so every oracle can take them. */
function randomOps(seed: number, size: number, sector: number, count: number): Op[] {
  let state = seed >>> 0 || 1;
  const random = (limit: number) => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) % limit;
  };
  const ops: Op[] = [];
  for (let i = 0; i < count; i++) {
    const offset = random(size / sector) * sector;
    const length = Math.min(size - offset, (1 + random((3 * MiB) / sector)) * sector);
    if (random(2) === 0) ops.push({ kind: "write", offset, length, seed: i + 1 });
    else ops.push({ kind: "discard", offset, length, partial: random(2) === 0 ? "keep" : "zero" });
  }
  return ops;
}

/** Applies `ops` to the image and to `model`, which starts as `base` (zeros, or the parent's contents). */
async function applyOps(image: VhdxImage, ops: Op[], model: Uint8Array, base: Uint8Array): Promise<void> {
  const { blockSize } = image;
  for (const op of ops) {
    if (op.kind === "write") {
      const data = pattern(op.length, op.seed);
      await image.write(op.offset, data);
      model.set(data, op.offset);
      continue;
    }
    const result = await image.discard(op.offset, op.length, { partial: op.partial });
    let freedOrSame = 0;
    const end = op.offset + op.length;
    for (let at = op.offset; at < end; ) {
      const blockEnd = Math.min(Math.floor(at / blockSize + 1) * blockSize, model.length);
      const to = Math.min(end, blockEnd);
      const whole = at % blockSize === 0 && to === blockEnd;
      if (whole) {
        model.set(base.subarray(at, to), at);
        freedOrSame += to - at;
      } else if (op.partial === "zero") model.fill(0, at, to);
      at = to;
    }
    expect(result.zeroedBytes + result.keptBytes + freedOrSame).toBe(op.length);
  }
}

describe.skipIf(!oracle("qemu-img"))("discard against qemu-img (dynamic, 512-byte sectors)", () => {
  it.each([11, 12, 13])("seed %i: qemu-img check is clean and compare equals the model", async (seed) => {
    const size = 12 * MiB;
    const { source, image } = await dynamicImage(size, MiB);
    const model = new Uint8Array(size);
    await applyOps(image, randomOps(seed, size, 512, 30), model, new Uint8Array(size));
    expect(firstDifference(await image.read(0, size), model)).toBe(-1);
    await image.close();
    const file = join(dir.path, `dynamic-${seed}.vhdx`);
    const raw = join(dir.path, `dynamic-${seed}.raw`);
    writeFileSync(file, source.bytes());
    writeFileSync(raw, model);
    expect(qemuCheck(file)).toMatch(/No errors were found/);
    expect(run("qemu-img", ["compare", "-f", "vhdx", "-F", "raw", file, raw]).toString()).toMatch(/identical/);
  });
});

describe.skipIf(!oracle("pyvhdi"))("discard in differencing children against libvhdi and 7-Zip", () => {
  it.each([
    [21, 512],
    [22, 4096],
  ] as const)("seed %i, %i-byte sectors: libvhdi and 7-Zip read the model", async (seed, sector) => {
    const size = 6 * MiB;
    const { source, image, parent, parentImage } = await chain(size, sector);
    const model = parent.expected.slice();
    await applyOps(image, randomOps(seed, size, sector, 24), model, parent.expected);
    expect(firstDifference(await image.read(0, size), model)).toBe(-1);
    await image.close();
    await parentImage.close();
    const folder = join(dir.path, `chain-${seed}`);
    mkdirSync(folder);
    const childPath = join(folder, "child.vhdx");
    const parentPath = join(folder, "parent.vhdx");
    writeFileSync(childPath, source.bytes());
    writeFileSync(parentPath, parent.bytes);
    expect(firstDifference(pyvhdiRead(childPath, [[0, size]], [parentPath]), model)).toBe(-1);
    if (oracle("7zz")) {
      const extracted = execFileSync("7zz", ["x", "-so", childPath], { cwd: folder, maxBuffer: 64 * MiB });
      expect(firstDifference(new Uint8Array(extracted), model)).toBe(-1);
    }
  });
});
