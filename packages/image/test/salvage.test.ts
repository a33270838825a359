// openImage's `salvage` option: every kind of BAT entry a read refuses (bad
// state, past the end of the file, in the header section, over the metadata
// region, over another block, a missing or misplaced sector bitmap block) and
// a payload or sector bitmap read that fails: with salvage those blocks read
// as zeros, the rest as they are, each is listed once, and extents() agree.
// Images from the independent generator, their BAT entries patched.
import { closeSync, openSync, writeFileSync, writeSync } from "node:fs";
import { STATE, buildVhdx } from "@vhdx-tools/fixtures";
import { type TempDir, oracles, qemuCreate, qemuIo, tempDir } from "@vhdx-tools/oracles";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type DiskExtent,
  LARGEST_WHOLE_BAT,
  MemorySource,
  type RandomAccessSource,
  VhdxError,
  type VhdxImage,
  openImage,
} from "../src/index.js";
import { openVhdx } from "../src/node/index.js";

const MiB = 1 << 20;
/** Chunk ratio of 512-byte sectors and 1 MiB blocks: 2^23 * 512 / 2^20. */
const CHUNK_RATIO = 4096;

function setBatEntry(bytes: Uint8Array, batOffset: number, index: number, state: number, offsetMB: number) {
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  view.setUint32(batOffset + index * 8, (((offsetMB % 4096) << 20) | state) >>> 0, true);
  view.setUint32(batOffset + index * 8 + 4, Math.floor(offsetMB / 4096), true);
}

/** Blocks 0-7 of a 10 MiB dynamic disk FULLY_PRESENT, block b at firstBlock + b MiB; 8 and 9 NOT_PRESENT. */
function dynamicImage() {
  const blocks: Record<number, { state: number }> = {};
  for (let block = 0; block < 8; block++) blocks[block] = { state: STATE.FULLY_PRESENT };
  return buildVhdx({ virtualSize: 10 * MiB, blockSize: MiB, type: "dynamic", blocks });
}

/** Each kind of entry the read path refuses, one block each; returns what each salvaged block's code must be. */
function damageEveryWay(fixture: ReturnType<typeof dynamicImage>): Map<number, string> {
  const { bat, metadata, firstBlock } = fixture.offsets;
  setBatEntry(fixture.bytes, bat, 1, STATE.FULLY_PRESENT, 100_000); // past the end of the file
  setBatEntry(fixture.bytes, bat, 2, 4, firstBlock / MiB + 2); // the reserved state
  setBatEntry(fixture.bytes, bat, 3, STATE.FULLY_PRESENT, metadata / MiB); // over the metadata region
  setBatEntry(fixture.bytes, bat, 4, STATE.FULLY_PRESENT, 0); // in the header section
  setBatEntry(fixture.bytes, bat, 5, STATE.PARTIALLY_PRESENT, firstBlock / MiB + 5); // partial without a parent
  setBatEntry(fixture.bytes, bat, 7, STATE.FULLY_PRESENT, firstBlock / MiB + 6); // over block 6: both refused
  setBatEntry(fixture.bytes, bat, 8, STATE.FULLY_PRESENT, 2 ** 40); // past 2^53 bytes
  return new Map([1, 2, 3, 4, 5, 6, 7, 8].map((block) => [block, "CORRUPT_BAT"]));
}

/** What a salvage read must return: the fixture's bytes, zeros over the given blocks. */
function expectedWithZeros(expected: Uint8Array, blocks: Iterable<number>, blockSize = MiB): Uint8Array {
  const bytes = expected.slice();
  for (const block of blocks) bytes.fill(0, block * blockSize, (block + 1) * blockSize);
  return bytes;
}

async function allExtents(image: VhdxImage): Promise<DiskExtent[]> {
  const extents: DiskExtent[] = [];
  for await (const extent of image.extents()) extents.push(extent);
  return extents;
}

/** The disk as extents() describe it: data read through readInto, everything else zeros. */
async function bytesByExtents(image: VhdxImage): Promise<Uint8Array> {
  const bytes = new Uint8Array(image.virtualSize);
  for (const extent of await allExtents(image)) {
    if (extent.kind === "data")
      await image.readInto(bytes.subarray(extent.start, extent.start + extent.length), extent.start);
  }
  return bytes;
}

/** A memory source whose reads touching [from, to) fail with IO_ERROR, as a bad disk's do. */
class FailingRange implements RandomAccessSource {
  readonly readOnly = true;
  private readonly memory: MemorySource;

  constructor(
    bytes: Uint8Array,
    private readonly from: number,
    private readonly to: number,
    readonly name = "failing memory",
  ) {
    this.memory = new MemorySource(bytes);
  }

  async read(buffer: Uint8Array, position: number): Promise<number> {
    if (position < this.to && this.from < position + buffer.length)
      throw new VhdxError("IO_ERROR", `cannot read ${this.name} at ${position}: input/output error`);
    return this.memory.read(buffer, position);
  }
  write = () => Promise.reject(new VhdxError("READ_ONLY", "read-only"));
  flush = () => Promise.resolve();
  size = () => this.memory.size();
  truncate = () => Promise.reject(new VhdxError("READ_ONLY", "read-only"));
  close = () => this.memory.close();
}

describe("salvage: untrusted BAT entries", () => {
  it("reads each refused block as zeros and the others as they are, and lists each once", async () => {
    const fixture = dynamicImage();
    const codes = damageEveryWay(fixture);
    const plain = await openImage(new MemorySource(fixture.bytes));
    for (const block of codes.keys())
      await expect(plain.read(block * MiB, 512), `block ${block}`).rejects.toMatchObject({ code: "CORRUPT_BAT" });
    expect(Buffer.compare(await plain.read(0, MiB), fixture.expectedAt(0, MiB))).toBe(0);

    const heard: number[] = [];
    const image = await openImage(new MemorySource(fixture.bytes), {
      salvage: true,
      onSalvage: (range) => heard.push(range.block),
    });
    const expected = expectedWithZeros(fixture.expected, codes.keys());
    expect(Buffer.compare(await image.read(0, image.virtualSize), expected)).toBe(0);
    await image.read(MiB + 4096, 512); // a second read of a salvaged block is not listed again
    expect(heard).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);

    const salvaged = image.salvaged;
    expect(salvaged.map((range) => [range.block, range.code])).toEqual([...codes]);
    for (const range of salvaged) {
      expect(range).toMatchObject({
        file: "memory",
        batIndex: range.block,
        virtualOffset: range.block * MiB,
        length: MiB,
      });
      expect(range.entryOffset).toBe(fixture.offsets.bat + range.block * 8);
      expect(range.message).toContain(`@0x${range.entryOffset.toString(16)}: `);
    }
    const byBlock = new Map(salvaged.map((range) => [range.block, range]));
    expect(byBlock.get(1)).toMatchObject({ fileOffset: 100_000 * MiB, state: "FULLY_PRESENT" });
    expect(byBlock.get(1)!.message).toMatch(/past the end of the file/);
    expect(byBlock.get(2)).toMatchObject({ fileOffset: null, state: "RESERVED (4)" });
    expect(byBlock.get(3)).toMatchObject({ fileOffset: fixture.offsets.metadata });
    expect(byBlock.get(3)!.message).toMatch(/overlaps/);
    expect(byBlock.get(4)).toMatchObject({ fileOffset: 0 });
    expect(byBlock.get(4)!.message).toMatch(/header section/);
    expect(byBlock.get(5)!.message).toMatch(/PARTIALLY_PRESENT/);
    expect(byBlock.get(6)!.message).toMatch(/overlaps another block/);
    expect(byBlock.get(8)).toMatchObject({ fileOffset: null });
    expect(byBlock.get(8)!.message).toMatch(/past any possible file/);
    await image.close();
  });

  it("gives extents that agree with reads: each refused block a salvaged zero extent", async () => {
    const fixture = dynamicImage();
    const codes = damageEveryWay(fixture);
    const image = await openImage(new MemorySource(fixture.bytes), { salvage: true });
    const extents = await allExtents(image);
    const salvagedStarts = extents.filter((e) => e.salvaged).flatMap((e) => blocksOf(e));
    expect(salvagedStarts).toEqual([...codes.keys()]);
    for (const extent of extents.filter((e) => e.salvaged)) expect(extent.kind).toBe("zero");
    expect(extents.filter((e) => e.kind === "data").flatMap((e) => blocksOf(e))).toEqual([0]);
    expect(Buffer.compare(await bytesByExtents(image), await image.read(0, image.virtualSize))).toBe(0);
    // extents() alone lists them, as cat (which reads only data extents) needs.
    expect(image.salvaged.map((range) => range.block)).toEqual([...codes.keys()]);
    await image.close();

    const plain = await openImage(new MemorySource(fixture.bytes));
    await expect(allExtents(plain)).rejects.toMatchObject({ code: "CORRUPT_BAT" });
    await plain.close();
  });

  it("streams the disk with the refused blocks as zeros", async () => {
    const fixture = dynamicImage();
    const codes = damageEveryWay(fixture);
    const image = await openImage(new MemorySource(fixture.bytes), { salvage: true });
    const chunks: Uint8Array[] = [];
    for await (const chunk of image.stream(0, image.virtualSize, { chunkSize: 3 * MiB })) chunks.push(chunk);
    expect(Buffer.compare(Buffer.concat(chunks), expectedWithZeros(fixture.expected, codes.keys()))).toBe(0);
    await image.close();
  });
});

describe("salvage: differencing disks", () => {
  function chain() {
    const parent = buildVhdx({
      virtualSize: 8 * MiB,
      blockSize: MiB,
      type: "dynamic",
      blocks: Object.fromEntries([0, 1, 2, 3, 4, 5, 6, 7].map((b) => [b, { state: STATE.FULLY_PRESENT }])),
    });
    const child = buildVhdx(
      {
        virtualSize: 8 * MiB,
        blockSize: MiB,
        type: "differencing",
        parent: { dataWriteGuid: parent.dataWriteGuid, paths: { relative_path: "p.vhdx" } },
        blocks: {
          1: { state: STATE.PARTIALLY_PRESENT, presentSectors: (s) => s % 2 === 0 },
          2: { state: STATE.FULLY_PRESENT },
        },
      },
      parent,
    );
    return { parent, child };
  }

  const open = (child: Uint8Array, parent: Uint8Array, salvage = true) =>
    openImage(new MemorySource(child, { name: "child" }), {
      parents: [new MemorySource(parent, { name: "parent" })],
      ...(salvage ? { salvage } : {}),
    });

  it("reads a partially present block whose sector bitmap entry is missing or misplaced as zeros", async () => {
    for (const [label, state, offsetMB] of [
      ["not present", 0, 0],
      ["past the end of the file", 6, 100_000],
      ["in the header section", 6, 0],
    ] as const) {
      const { parent, child } = chain();
      setBatEntry(child.bytes, child.offsets.bat, CHUNK_RATIO, state, offsetMB);
      const plain = await open(child.bytes, parent.bytes, false);
      await expect(plain.read(MiB, 512), label).rejects.toBeInstanceOf(VhdxError);
      const image = await open(child.bytes, parent.bytes);
      const read = await image.read(0, image.virtualSize);
      expect(Buffer.compare(read, expectedWithZeros(child.expected, [1])), label).toBe(0);
      expect(
        image.salvaged.map((r) => [r.file, r.block, r.batIndex, r.code]),
        label,
      ).toEqual([["child", 1, 1, "CORRUPT_BAT"]]);
      expect(image.salvaged[0]!.message, label).toMatch(/sector bitmap block/);
      expect(Buffer.compare(await bytesByExtents(image), read), label).toBe(0);
      await image.close();
    }
  });

  it("reads a partially present block whose sector bitmap cannot be read as zeros", async () => {
    const { parent, child } = chain();
    // The generator puts chunk 0's sector bitmap right after block 1, the first partial block.
    const bitmapAt = child.offsets.firstBlock + MiB;
    const source = new FailingRange(child.bytes, bitmapAt, bitmapAt + MiB, "child");
    const image = await openImage(source, { parents: [new MemorySource(parent.bytes)], salvage: true });
    const read = await image.read(0, image.virtualSize);
    expect(Buffer.compare(read, expectedWithZeros(child.expected, [1]))).toBe(0);
    expect(image.salvaged.map((r) => [r.block, r.code, r.state])).toEqual([[1, "IO_ERROR", "PARTIALLY_PRESENT"]]);
    expect(Buffer.compare(await bytesByExtents(image), read)).toBe(0);
    await image.close();
  });

  it("lists a parent's refused block, read through the child, under the parent's name", async () => {
    const { parent, child } = chain();
    setBatEntry(parent.bytes, parent.offsets.bat, 5, 4, 0);
    const image = await open(child.bytes, parent.bytes);
    const read = await image.read(0, image.virtualSize);
    expect(Buffer.compare(read, expectedWithZeros(child.expected, [5]))).toBe(0);
    expect(image.salvaged.map((r) => [r.file, r.block, r.code])).toEqual([["parent", 5, "CORRUPT_BAT"]]);
    expect(Buffer.compare(await bytesByExtents(image), read)).toBe(0);
    await image.close();
  });
});

describe("salvage: payload reads that fail", () => {
  it("reads as zeros only the block whose read fails, and lists the part that failed", async () => {
    const fixture = dynamicImage();
    const blockAt = (block: number) => fixture.offsets.firstBlock + block * MiB;
    const source = new FailingRange(fixture.bytes, blockAt(3) + 4096, blockAt(3) + 8192);
    const plain = await openImage(source);
    await expect(plain.read(0, plain.virtualSize)).rejects.toMatchObject({ code: "IO_ERROR" });
    const image = await openImage(source, { salvage: true });
    // One read over blocks 0-7, which lie side by side in the file: a single run.
    expect(
      Buffer.compare(await image.read(0, 8 * MiB), expectedWithZeros(fixture.expected, [3]).subarray(0, 8 * MiB)),
    ).toBe(0);
    expect(image.salvaged).toEqual([
      expect.objectContaining({
        block: 3,
        virtualOffset: 3 * MiB,
        length: MiB,
        fileOffset: blockAt(3),
        code: "IO_ERROR",
      }),
    ]);
    // A read of part of the block zeros and lists only that part.
    const part = await image.read(3 * MiB + 2048, 4096);
    expect(part.every((byte) => byte === 0)).toBe(true);
    expect(image.salvaged.map((r) => [r.virtualOffset, r.length])).toEqual([
      [3 * MiB, MiB],
      [3 * MiB + 2048, 4096],
    ]);
    await image.close();
  });
});

describe("salvage: random damage", () => {
  /** Seeded: overwrites `count` random BAT entries (payload and sector bitmap) with random states and offsets. */
  function scramble(bytes: Uint8Array, batOffset: number, entries: number, seed: number, count: number): void {
    let state = seed;
    const next = (limit: number) => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      return state % limit;
    };
    for (let n = 0; n < count; n++) {
      const index = next(4) === 0 ? CHUNK_RATIO : next(entries);
      setBatEntry(bytes, batOffset, index, next(8), next(4) === 0 ? next(100_000) : next(24));
    }
  }

  it("never throws for damaged entries: every read completes, and extents agree with it", async () => {
    let salvagedSeeds = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const parent = dynamicImage();
      const child = buildVhdx(
        {
          virtualSize: 10 * MiB,
          blockSize: MiB,
          type: "differencing",
          parent: { dataWriteGuid: parent.dataWriteGuid, paths: { relative_path: "p.vhdx" } },
          blocks: {
            1: { state: STATE.PARTIALLY_PRESENT, presentSectors: (s) => s % 3 === 0 },
            2: { state: STATE.FULLY_PRESENT },
            4: { state: STATE.PARTIALLY_PRESENT, presentSectors: (s) => s < 100 },
          },
        },
        parent,
      );
      scramble(child.bytes, child.offsets.bat, 10, seed, 1 + (seed % 4));
      scramble(parent.bytes, parent.offsets.bat, 10, seed * 7919, seed % 3);
      const image = await openImage(new MemorySource(child.bytes, { name: "child" }), {
        parents: [new MemorySource(parent.bytes, { name: "parent" })],
        salvage: true,
      });
      const read = await image.read(0, image.virtualSize);
      expect(Buffer.compare(await bytesByExtents(image), read), `seed ${seed}`).toBe(0);
      for (const range of image.salvaged) {
        expect(["CORRUPT_BAT", "CORRUPT_BITMAP"], `seed ${seed}`).toContain(range.code);
        // A parent's block read as zeros may still be covered by the child's sectors.
        if (range.file === "child")
          expect(read.subarray(range.virtualOffset, range.virtualOffset + range.length).every((b) => b === 0)).toBe(
            true,
          );
      }
      if (image.salvaged.length > 0) salvagedSeeds++;
      await image.close();
    }
    expect(salvagedSeeds).toBeGreaterThan(20);
  });
});

describe("salvage: options", () => {
  it("is refused for a read-write open, and onSalvage without it", async () => {
    const { bytes } = dynamicImage();
    await expect(openImage(new MemorySource(bytes), { readOnly: false, salvage: true })).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
      message: expect.stringMatching(/read-only/),
    });
    await expect(openImage(new MemorySource(bytes), { onSalvage: () => undefined })).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
    });
    await expect(openImage(new MemorySource(bytes), { salvage: "yes" as unknown as boolean })).rejects.toBeInstanceOf(
      TypeError,
    );
  });

  it("changes nothing for a sound image, and lists nothing", async () => {
    const fixture = dynamicImage();
    const image = await openImage(new MemorySource(fixture.bytes), { salvage: true });
    expect(Buffer.compare(await image.read(0, image.virtualSize), fixture.expected)).toBe(0);
    const plain = await openImage(new MemorySource(fixture.bytes));
    expect(await allExtents(image)).toEqual(await allExtents(plain));
    expect(image.salvaged).toEqual([]);
    expect(plain.salvaged).toEqual([]);
  });
});

describe("salvage: files", () => {
  let dir: TempDir;
  beforeAll(() => {
    dir = tempDir("vhdx-salvage-");
  });
  afterAll(() => dir?.remove());

  it("openVhdx refuses salvage for a read-write open, and leaves the file as it was", async () => {
    const path = dir.file("sound.vhdx");
    const fixture = dynamicImage();
    writeFileSync(path, fixture.bytes);
    await expect(openVhdx(path, { readOnly: false, salvage: true })).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
    });
    const image = await openVhdx(path, { salvage: true });
    expect(Buffer.compare(await image.read(0, image.virtualSize), fixture.expected)).toBe(0);
    await image.close();
  });

  // 8 TiB of 1 MiB blocks: a 64 MiB BAT, read a page at a time.
  it.runIf(oracles("qemu-img", "qemu-io"))("salvages a block over another in a BAT read a page at a time", async () => {
    const path = dir.file("paged.vhdx");
    const size = 8 * 2 ** 40;
    qemuCreate(path, { size, subformat: "dynamic", blockSize: MiB });
    qemuIo(path, [`write -P 0x11 0 ${3 * MiB}`, `write -P 0x33 ${size - MiB} ${MiB}`]);
    const before = await openVhdx(path);
    expect(before.geometry.batByteLength).toBeGreaterThan(LARGEST_WHOLE_BAT);
    const batOffset = before.layout.bat.fileOffset;
    const entry0 = (await before.batWindow(0, MiB)).bytes.slice(0, 8);
    await before.close();
    const fd = openSync(path, "r+");
    writeSync(fd, entry0, 0, 8, batOffset + 2 * 8); // block 2 now lies where block 0 does
    closeSync(fd);

    const image = await openVhdx(path, { salvage: true });
    const head = await image.read(0, 4 * MiB);
    const expected = new Uint8Array(4 * MiB).fill(0x11, MiB, 2 * MiB);
    expect(Buffer.compare(head, expected)).toBe(0);
    expect((await image.read(size - MiB, MiB)).every((byte) => byte === 0x33)).toBe(true);
    expect(image.salvaged.map((r) => [r.block, r.code])).toEqual([
      [0, "CORRUPT_BAT"],
      [2, "CORRUPT_BAT"],
    ]);
    const extents: DiskExtent[] = [];
    for await (const extent of image.extents(0, 4 * MiB)) extents.push(extent);
    expect(extents.map((e) => [e.start / MiB, e.length / MiB, e.kind, e.salvaged ?? false])).toEqual([
      [0, 1, "zero", true],
      [1, 1, "data", false],
      [2, 1, "zero", true],
      [3, 1, "zero", false], // QEMU leaves unwritten blocks in a state that reads as zeros
    ]);
    await image.close();
  });
});

function blocksOf(extent: DiskExtent): number[] {
  const blocks: number[] = [];
  for (let at = extent.start; at < extent.start + extent.length; at += MiB) blocks.push(Math.floor(at / MiB));
  return blocks;
}
