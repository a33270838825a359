// Reads of images made by the spec-driven generator in tools/fixtures,
// checked against its model of what every byte must read as.
import { type Server, createServer } from "node:http";
import { STATE, buildVhdx, patternBlock } from "@vhdx-tools/fixtures";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BlobSource, HttpSource, MemorySource, VhdxError, openImage } from "../src/index.js";

const MiB = 1 << 20;

/** A seeded generator so a failing case can be replayed. */
function random(seed: number) {
  let state = seed >>> 0;
  return (limit: number) => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return Math.floor((state / 2 ** 32) * limit);
  };
}

async function expectReadsMatch(
  image: Awaited<ReturnType<typeof openImage>>,
  expectedAt: (o: number, l: number) => Uint8Array,
  seed = 1,
) {
  const pick = random(seed);
  const size = image.virtualSize;
  const whole = Math.min(size, 64 * MiB);
  expect(Buffer.compare(await image.read(0, whole), expectedAt(0, whole))).toBe(0);
  for (let i = 0; i < 60; i++) {
    const offset = pick(size);
    const length = Math.min(size - offset, 1 + pick(Math.min(3 * image.blockSize, 6 * MiB)));
    const actual = await image.read(offset, length);
    expect(Buffer.compare(actual, expectedAt(offset, length)), `read of ${length} at ${offset}`).toBe(0);
  }
}

async function expectCode(promise: Promise<unknown>, code: string) {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(VhdxError.isInstance(error), String(error)).toBe(true);
  expect((error as VhdxError).code).toBe(code);
  return error as VhdxError;
}

describe("block states of a dynamic disk", () => {
  const fixture = buildVhdx({
    virtualSize: 12 * MiB + 7 * 512,
    blockSize: MiB,
    type: "dynamic",
    blocks: {
      0: { state: STATE.FULLY_PRESENT },
      1: { state: STATE.ZERO },
      2: { state: STATE.UNDEFINED },
      3: { state: STATE.UNMAPPED },
      4: { state: STATE.UNMAPPED_V095 },
      5: { state: STATE.FULLY_PRESENT },
      6: { state: STATE.FULLY_PRESENT },
      9: { state: STATE.FULLY_PRESENT },
      12: { state: STATE.FULLY_PRESENT },
    },
  });

  it("reads present blocks from the file and every other state as zeros", async () => {
    const image = await openImage(new MemorySource(fixture.bytes));
    expect(image.diskType).toBe("dynamic");
    expect(image.virtualSize).toBe(12 * MiB + 7 * 512);
    expect(image.dataWriteGuid).toBe(fixture.dataWriteGuid);
    expect(image.virtualDiskId).toBe(fixture.virtualDiskId);
    const block0 = await image.read(0, MiB);
    expect(block0).toEqual(patternBlock(MiB, 1));
    for (const block of [1, 2, 3, 4, 7, 8]) {
      expect(
        (await image.read(block * MiB, MiB)).every((b) => b === 0),
        `block ${block}`,
      ).toBe(true);
    }
    await expectReadsMatch(image, fixture.expectedAt);
  });

  it("reads the last partial block up to the end of the disk and no further", async () => {
    const image = await openImage(new MemorySource(fixture.bytes));
    const tail = await image.read(12 * MiB, 7 * 512);
    expect(tail).toEqual(patternBlock(MiB, 13).subarray(0, 7 * 512));
    await expectCode(image.read(12 * MiB, 7 * 512 + 1), "OUT_OF_RANGE");
    await expectCode(image.read(-1, 1), "OUT_OF_RANGE");
    await expectCode(image.read(0.5, 1), "OUT_OF_RANGE");
  });
});

describe("fixed disks", () => {
  it("reads a fixed disk whose blocks are all present", async () => {
    const fixture = buildVhdx({
      virtualSize: 6 * MiB,
      blockSize: 2 * MiB,
      type: "fixed",
      blocks: {
        0: { state: STATE.FULLY_PRESENT },
        1: { state: STATE.FULLY_PRESENT },
        2: { state: STATE.FULLY_PRESENT },
      },
    });
    const image = await openImage(new MemorySource(fixture.bytes));
    expect(image.diskType).toBe("fixed");
    await expectReadsMatch(image, fixture.expectedAt);
  });

  it("reads ZERO blocks of a fixed disk as zeros, as QEMU's block_state_zero writes them", async () => {
    const fixture = buildVhdx({
      virtualSize: 4 * MiB,
      blockSize: MiB,
      type: "fixed",
      blocks: { 1: { state: STATE.ZERO } },
    });
    const image = await openImage(new MemorySource(fixture.bytes));
    expect((await image.read(MiB, MiB)).every((b) => b === 0)).toBe(true);
    await expectReadsMatch(image, fixture.expectedAt);
  });
});

describe("4 KiB logical sectors", () => {
  it("reads a dynamic disk with 4096-byte sectors and unaligned ranges", async () => {
    const fixture = buildVhdx({
      virtualSize: 40 * MiB,
      blockSize: 4 * MiB,
      logicalSectorSize: 4096,
      physicalSectorSize: 4096,
      type: "dynamic",
      blocks: {
        0: { state: STATE.FULLY_PRESENT },
        3: { state: STATE.FULLY_PRESENT },
        4: { state: STATE.FULLY_PRESENT },
        9: { state: STATE.FULLY_PRESENT },
      },
    });
    const image = await openImage(new MemorySource(fixture.bytes));
    expect(image.logicalSectorSize).toBe(4096);
    expect(image.physicalSectorSize).toBe(4096);
    expect(image.geometry.chunkRatio).toBe(8192);
    await expectReadsMatch(image, fixture.expectedAt, 2);
  });
});

describe("block sizes", () => {
  it.each([1, 2, 32, 256])(
    "reads a disk with %i MiB blocks",
    async (mib) => {
      const blockSize = mib * MiB;
      const fixture = buildVhdx({
        virtualSize: 3 * blockSize - 512,
        blockSize,
        type: "dynamic",
        blocks: { 0: { state: STATE.FULLY_PRESENT }, 2: { state: STATE.FULLY_PRESENT } },
      });
      const image = await openImage(new MemorySource(fixture.bytes));
      expect(image.blockSize).toBe(blockSize);
      await expectReadsMatch(image, fixture.expectedAt, mib);
    },
    60_000,
  );
});

describe("what a reader must carry but not understand", () => {
  it("opens an image with an unknown optional region and unknown optional and user metadata items", async () => {
    const fixture = buildVhdx({
      virtualSize: 4 * MiB,
      blockSize: MiB,
      type: "dynamic",
      blocks: { 2: { state: STATE.FULLY_PRESENT } },
      extraRegions: [{ guid: "11111111-2222-3333-4444-555555555555", required: false }],
      extraItems: [
        {
          itemId: "66666666-7777-8888-9999-aaaaaaaaaaaa",
          isUser: false,
          isRequired: false,
          data: Uint8Array.of(1, 2, 3, 4),
        },
        { itemId: "bbbbbbbb-cccc-dddd-eeee-ffffffffffff", isUser: true, isRequired: false, data: Uint8Array.of(5, 6) },
      ],
    });
    const image = await openImage(new MemorySource(fixture.bytes));
    expect(image.regionTable.entries.map((e) => e.guid)).toContain("11111111-2222-3333-4444-555555555555");
    expect(image.metadata.table.entries.some((e) => e.isUser)).toBe(true);
    await expectReadsMatch(image, fixture.expectedAt);
  });

  it("opens regions marked not required, as QEMU writes them", async () => {
    const fixture = buildVhdx({ virtualSize: 2 * MiB, blockSize: MiB, type: "dynamic", regionsRequired: false });
    const image = await openImage(new MemorySource(fixture.bytes));
    expect(image.regionTable.entries.every((e) => !e.required)).toBe(true);
  });
});

describe("browser sources", () => {
  const fixture = buildVhdx({
    virtualSize: 8 * MiB,
    blockSize: MiB,
    type: "dynamic",
    blocks: { 1: { state: STATE.FULLY_PRESENT }, 2: { state: STATE.FULLY_PRESENT }, 6: { state: STATE.FULLY_PRESENT } },
  });
  let server: Server;
  let url: string;
  let requests = 0;
  let bytesSent = 0;

  beforeAll(async () => {
    server = createServer((request, response) => {
      requests++;
      const match = /^bytes=(\d+)-(\d+)$/.exec(request.headers.range ?? "");
      if (!match) return void response.writeHead(416).end();
      const start = Number(match[1]);
      const end = Math.min(Number(match[2]), fixture.bytes.length - 1);
      bytesSent += end + 1 - start;
      response.writeHead(206, { "content-range": `bytes ${start}-${end}/${fixture.bytes.length}` });
      response.end(fixture.bytes.subarray(start, end + 1));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}/disk.vhdx`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("opens and reads a Blob (a browser File)", async () => {
    const image = await openImage(new BlobSource(new Blob([fixture.bytes])));
    await expectReadsMatch(image, fixture.expectedAt);
  });

  it("opens and reads over HTTP range requests, reading contiguous blocks with one request", async () => {
    const image = await openImage(new HttpSource(url));
    await image.read(0, MiB); // loads the BAT
    requests = 0;
    const twoBlocks = await image.read(MiB, 2 * MiB);
    expect(requests).toBe(1);
    expect(Buffer.compare(twoBlocks, fixture.expectedAt(MiB, 2 * MiB))).toBe(0);
    await expectReadsMatch(image, fixture.expectedAt);
  });

  it("opens a dynamic image and reads its first 4 KiB in at most 4 requests", async () => {
    requests = 0;
    bytesSent = 0;
    const image = await openImage(new HttpSource(url));
    const first = await image.read(MiB, 4096);
    expect(Buffer.compare(first, fixture.expectedAt(MiB, 4096))).toBe(0);
    // The header section, the metadata table with its items, a BAT page, the data.
    expect(requests).toBeLessThanOrEqual(4);
    expect(bytesSent).toBeLessThan(448 * 1024);
  });
});
