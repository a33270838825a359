// How few requests an image costs over HTTP, counted by the range server:
// open plus a first read, a chain's parents, and a sequential read of a whole
// disk whose blocks lie next to each other in the file (one source read per
// run of neighbouring blocks, at most MAX_PAYLOAD_READ each, for any source).
import { STATE, buildVhdx } from "@vhdx-tools/fixtures";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpSource, MemorySource, type RandomAccessSource, openImage } from "../src/index.js";
import { MAX_PAYLOAD_READ } from "../src/read/payload-reads.js";
import { type RangeServer, answered, expectSameBytes, startRangeServer } from "./http-helpers.js";

const MiB = 1 << 20;

/** 64 MiB, 1 MiB blocks, the first 32 MiB written: its blocks lie in order, next to each other, as after a convert. */
const disk = buildVhdx({
  virtualSize: 64 * MiB,
  blockSize: MiB,
  type: "dynamic",
  blocks: Object.fromEntries(Array.from({ length: 32 }, (_, block) => [block, { state: STATE.FULLY_PRESENT }])),
});
const base = buildVhdx({
  virtualSize: 8 * MiB,
  blockSize: MiB,
  type: "dynamic",
  blocks: { 0: { state: STATE.FULLY_PRESENT } },
});
const child = buildVhdx(
  {
    virtualSize: 8 * MiB,
    blockSize: MiB,
    type: "differencing",
    parent: { dataWriteGuid: base.dataWriteGuid, paths: { relative_path: ".\\base.vhdx" } },
    blocks: {
      1: { state: STATE.FULLY_PRESENT },
      0: { state: STATE.PARTIALLY_PRESENT, presentSectors: (sector) => sector % 2 === 0 },
    },
  },
  base,
);
/** A child whose locator names no place reachable over HTTP, so only `parents` can supply its parent. */
const stray = buildVhdx(
  {
    virtualSize: 8 * MiB,
    blockSize: MiB,
    type: "differencing",
    parent: { dataWriteGuid: base.dataWriteGuid, paths: { absolute_win32_path: "C:\\vms\\base.vhdx" } },
  },
  base,
);

let server: RangeServer;
beforeAll(async () => {
  server = await startRangeServer({
    files: {
      "/disk.vhdx": disk.bytes,
      "/chain/base.vhdx": base.bytes,
      "/chain/child.vhdx": child.bytes,
      "/stray.vhdx": stray.bytes,
    },
  });
});
afterAll(() => server.close());

/** The requests for payload blocks (past the metadata and BAT). */
function payloadRequests(path: string) {
  return server.requests.filter(
    (request) =>
      request.path === path && Number(/^bytes=(\d+)/.exec(request.range ?? "")?.[1]) >= disk.offsets.firstBlock,
  );
}

describe("open and a first read", () => {
  it("opens a dynamic image and reads its first 4 KiB in 4 requests", async () => {
    server.requests.length = 0;
    const image = await openImage(new HttpSource(server.url("/disk.vhdx")));
    expectSameBytes(await image.read(0, 4096), disk.expectedAt(0, 4096));
    // The header section, the metadata table with its items, a page of the BAT, the data.
    expect(server.requests.map((request) => request.range)).toEqual([
      "bytes=0-327679",
      `bytes=${disk.offsets.metadata}-${disk.offsets.metadata + 96 * 1024 - 1}`,
      `bytes=${disk.offsets.bat}-${disk.offsets.bat + 4095}`,
      `bytes=${disk.offsets.firstBlock}-${disk.offsets.firstBlock + 4095}`,
    ]);
    expect(answered(server).bytes).toBe(424 * 1024);
    await image.close();
  });
});

describe("a chain's parent", () => {
  const headerSectionRequests = () =>
    server.requests.filter((request) => request.path === "/chain/base.vhdx" && request.range?.startsWith("bytes=0-"));

  it("fetches the parent's header section once when found through relative_path", async () => {
    server.requests.length = 0;
    const image = await openImage(new HttpSource(server.url("/chain/child.vhdx")));
    expect(image.parent?.source.name).toBe(server.url("/chain/base.vhdx"));
    expect(headerSectionRequests()).toHaveLength(1);
    expect(answered(server, "/chain/base.vhdx").requests).toBe(2); // header section, metadata
    expectSameBytes(await image.read(0, 2 * MiB), child.expectedAt(0, 2 * MiB));
    await image.close();
  });

  it("fetches it once when passed in `parents`", async () => {
    server.requests.length = 0;
    const parent = new HttpSource(server.url("/chain/base.vhdx"));
    const image = await openImage(new HttpSource(server.url("/stray.vhdx")), { parents: [parent] });
    expect(image.parent?.source).toBe(parent);
    expect(headerSectionRequests()).toHaveLength(1);
    expect(server.requests).toHaveLength(4);
    await image.close();
  });
});

describe("a block written every other sector", () => {
  it("costs one request for the child's sectors and one for the parent's, not one per sector", async () => {
    const image = await openImage(new HttpSource(server.url("/chain/child.vhdx")));
    await image.read(2 * MiB, 512); // loads both BATs (block 2 comes from the parent)
    server.requests.length = 0;
    expectSameBytes(await image.read(0, MiB), child.expectedAt(0, MiB));
    // The child: its sector bitmap, then the span of its 1024 present sectors; the parent: the block.
    expect(answered(server, "/chain/child.vhdx").requests).toBe(2);
    expect(answered(server, "/chain/base.vhdx").requests).toBe(1);
    await image.close();
  });
});

describe("a sequential read of a whole disk", () => {
  const dataRequests = () => payloadRequests("/disk.vhdx");

  it("reads neighbouring blocks with one request per 8 MiB when one read spans them", async () => {
    const image = await openImage(new HttpSource(server.url("/disk.vhdx")));
    server.requests.length = 0;
    expectSameBytes(await image.read(0, 64 * MiB), disk.expectedAt(0, 64 * MiB));
    // 32 MiB of data in 8 MiB requests; the unwritten half costs nothing; one BAT page.
    expect(dataRequests()).toHaveLength(32 / 8);
    expect(dataRequests().every((request) => request.bytes === MAX_PAYLOAD_READ)).toBe(true);
    expect(server.requests).toHaveLength(32 / 8 + 1);
    await image.close();
  });

  it("costs one request per 8 MiB read of the disk, as vhdx convert reads it", async () => {
    const image = await openImage(new HttpSource(server.url("/disk.vhdx")));
    server.requests.length = 0;
    const piece = new Uint8Array(8 * MiB);
    for (let offset = 0; offset < image.virtualSize; offset += piece.length) {
      await image.readInto(piece, offset);
      expectSameBytes(piece, disk.expectedAt(offset, piece.length), `8 MiB at ${offset}`);
    }
    expect(dataRequests()).toHaveLength(4);
    expect(answered(server).bytes).toBe(32 * MiB + 4096);
    await image.close();
  });

  it("reads with one source read per 8 MiB from any source, not only HTTP", async () => {
    const reads: { position: number; length: number }[] = [];
    const memory = new MemorySource(disk.bytes);
    const counting: RandomAccessSource = Object.create(memory, {
      read: {
        value: (buffer: Uint8Array, position: number) => {
          reads.push({ position, length: buffer.length });
          return memory.read(buffer, position);
        },
      },
    });
    const image = await openImage(counting);
    reads.length = 0;
    expectSameBytes(await image.read(0, 64 * MiB), disk.expectedAt(0, 64 * MiB));
    const payload = reads.filter((read) => read.position >= disk.offsets.firstBlock);
    expect(payload).toEqual(
      Array.from({ length: 4 }, (_, i) => ({ position: disk.offsets.firstBlock + i * 8 * MiB, length: 8 * MiB })),
    );
    await image.close();
  });
});
