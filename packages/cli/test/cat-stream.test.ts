// vhdx cat reads a VHDX through image.stream(): copyRange "stream" gives the
// sink the disk's bytes in order, reading only the data stretches; after a
// sink fails, nothing more is read than the read-ahead; and cat -o of a disk whose
// allocated blocks hold zeros writes a sparse file with the same bytes.
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "@vhdx-tools/oracles";
import { MemorySource, type RandomAccessSource, type VhdxImage, createImage } from "@vhdx/image";
import { createVhdx } from "@vhdx/image/node";
import { afterAll, describe, expect, it } from "vitest";
import { type Sink, copyRange } from "../src/copy.js";
import type { Disk } from "../src/disk.js";
import { vhdx } from "./harness.js";

const MiB = 1 << 20;
const dir = tempDir("vhdx-cat-stream-");
afterAll(() => dir.remove());

/** A memory source that counts the bytes read from it. */
class CountingSource extends MemorySource {
  bytesRead = 0;
  override read(buffer: Uint8Array, position: number): Promise<number> {
    this.bytesRead += buffer.length;
    return super.read(buffer, position);
  }
}

function filled(length: number, value: number): Uint8Array {
  return new Uint8Array(length).fill(value);
}

/** 32 MiB, 1 MiB blocks: data at 1-3 MiB and 20-21 MiB, an allocated block of zeros at 10 MiB, the rest unallocated. */
async function sampleImage(source: RandomAccessSource): Promise<VhdxImage> {
  const image = await createImage(source, { size: 32 * MiB, blockSize: MiB });
  await image.write(MiB, filled(2 * MiB, 0x11));
  await image.write(20 * MiB + 512, filled(MiB - 512, 0x22));
  await image.write(10 * MiB, filled(MiB, 0));
  await image.flush();
  return image;
}

function diskOf(image: VhdxImage): Disk {
  return {
    path: "memory",
    format: "vhdx",
    size: image.virtualSize,
    image,
    readInto: () => Promise.reject(new Error("the stream path must not call readInto")),
    close: () => image.close(),
  };
}

/** A sink keeping every byte it is given (zeros too), like stdout. */
function collectingSink(
  size: number,
  failAt?: number,
): { sink: Sink; bytes: Uint8Array; dataCalls: Array<[number, number]> } {
  const bytes = filled(size, 0xee);
  const dataCalls: Array<[number, number]> = [];
  const sink: Sink = {
    reusesBuffers: false,
    async data(chunk, offset) {
      if (failAt !== undefined && offset + chunk.length > failAt) throw new Error(`write at ${offset} failed`);
      dataCalls.push([offset, chunk.length]);
      bytes.set(chunk, offset);
    },
    async zeros(offset, length) {
      bytes.fill(0, offset, offset + length);
    },
  };
  return { sink, bytes, dataCalls };
}

describe("copyRange through image.stream()", () => {
  it("gives the disk's bytes in order, reading only the data stretches", async () => {
    const source = new CountingSource();
    const image = await sampleImage(source);
    const expected = await image.read(0, image.virtualSize);
    const { sink, bytes, dataCalls } = collectingSink(image.virtualSize);
    const before = source.bytesRead;
    await copyRange(diskOf(image), 0, image.virtualSize, sink, undefined, undefined, "stream");
    expect(Buffer.from(bytes).equals(expected)).toBe(true);
    // Data: the blocks at 1, 2, 10 and 20 MiB, each read once (and the sector bitmaps nothing needs: none).
    expect(dataCalls.map(([, length]) => length).reduce((a, b) => a + b, 0)).toBe(4 * MiB);
    expect(source.bytesRead - before).toBeLessThanOrEqual(4 * MiB + 64 * 1024);
    for (const [offset, length] of dataCalls) {
      const block = Math.floor(offset / MiB);
      expect([1, 2, 10, 20], `data at ${offset}+${length}`).toContain(block);
    }
    await image.close();
  });

  it("reads no more than its read-ahead once the sink fails, and then stops", async () => {
    const source = new CountingSource();
    const image = await createImage(source, { size: 64 * MiB, blockSize: MiB });
    await image.write(0, filled(64 * MiB, 0x33));
    await image.read(0, 1); // the BAT is in memory from here
    const { sink } = collectingSink(image.virtualSize, 9 * MiB);
    const before = source.bytesRead;
    await expect(copyRange(diskOf(image), 0, image.virtualSize, sink, undefined, undefined, "stream")).rejects.toThrow(
      /write at 8388608 failed/,
    );
    const atFailure = source.bytesRead;
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    // Two pieces of 8 MiB were handed out; the stream holds at most two more and reads one.
    expect(source.bytesRead).toBe(atFailure);
    expect(source.bytesRead - before).toBeLessThanOrEqual(5 * 8 * MiB);
    await image.close();
  });
});

describe("vhdx cat", () => {
  it("-o writes the disk's bytes, sparse where its blocks hold zeros", async () => {
    const path = join(dir.path, "sample.vhdx");
    const image = await sampleImage(new MemorySource());
    const expected = await image.read(0, image.virtualSize);
    await image.close();
    const file = await createVhdx(path, { size: 32 * MiB, blockSize: MiB });
    await file.write(0, expected);
    await file.close();
    const out = join(dir.path, "sample.raw");
    const outcome = await vhdx(["cat", "-o", out, path], dir.path);
    expect(outcome.stderr).toBe("");
    expect(outcome.status).toBe(0);
    expect(readFileSync(out).equals(expected)).toBe(true);
    expect(statSync(out).blocks * 512).toBeLessThanOrEqual(3 * MiB + 64 * 1024);
    const piped = await vhdx(["cat", path], dir.path);
    expect(piped.stdoutBytes.equals(expected)).toBe(true);
  });
});
