// image.stream(): the bytes are image.read's for fixed, dynamic and
// differencing disks over odd ranges; chunks end on chunkSize boundaries, in
// buffers from the caller's allocate when given; a
// slow consumer holds the reads back to highWaterMark plus one chunk; cancel()
// stops reading; a failed read, a bad range and a closed image error the stream.
import { afterEach, describe, expect, it } from "vitest";
import { MemorySource, type RandomAccessSource, VhdxError, type VhdxImage, createImage } from "../src/index.js";

const KiB = 1024;
const MiB = 1024 * KiB;

/** A source that counts what is read from it and can be told to fail reads at or past a position. */
class CountingSource implements RandomAccessSource {
  bytesRead = 0;
  reads = 0;
  failFrom = Number.POSITIVE_INFINITY;
  readonly name = "counting";
  readonly readOnly = false;
  constructor(private readonly inner = new MemorySource()) {}

  async read(buffer: Uint8Array, position: number): Promise<number> {
    if (position + buffer.length > this.failFrom) throw new VhdxError("IO_ERROR", `read at ${position} failed`);
    this.reads++;
    this.bytesRead += buffer.length;
    return this.inner.read(buffer, position);
  }
  write(data: Uint8Array, position: number) {
    return this.inner.write(data, position);
  }
  flush() {
    return this.inner.flush();
  }
  size() {
    return this.inner.size();
  }
  truncate(length: number) {
    return this.inner.truncate(length);
  }
  close() {
    return this.inner.close();
  }
}

const opened: VhdxImage[] = [];
afterEach(async () => {
  for (const image of opened.splice(0)) await image.close();
});

function pattern(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let x = seed;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    bytes[i] = x >>> 24;
  }
  return bytes;
}

async function newImage(
  options: Parameters<typeof createImage>[1],
  source: RandomAccessSource = new MemorySource(),
): Promise<VhdxImage> {
  const image = await createImage(source, options);
  opened.push(image);
  return image;
}

/** A dynamic disk with data in some blocks, zeros in others, and sectors written inside blocks. */
async function dynamicImage(source?: RandomAccessSource): Promise<VhdxImage> {
  const image = await newImage({ size: 8 * MiB, blockSize: MiB }, source);
  await image.write(0, pattern(MiB + 3 * KiB, 1));
  await image.write(3 * MiB + 512, pattern(5000, 2));
  await image.writeZeroes(5 * MiB, MiB);
  await image.write(7 * MiB - 4096, pattern(8192, 3));
  return image;
}

async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  const reader = stream.getReader();
  for (let next = await reader.read(); !next.done; next = await reader.read()) chunks.push(next.value);
  return chunks;
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const all = new Uint8Array(chunks.reduce((sum, c) => sum + c.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    all.set(chunk, at);
    at += chunk.length;
  }
  return all;
}

/** Lets every read the stream has started finish: the sources here answer without real I/O. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => null,
    (error: unknown) => error,
  );
}

const RANGES: Array<[number, number | undefined]> = [
  [0, undefined],
  [1, 1],
  [511, 3 * MiB + 1029],
  [MiB - 7, 2 * MiB + 14],
  [7 * MiB + 100, undefined],
  [8 * MiB, 0],
];

describe("image.stream()", () => {
  const kinds: Array<[string, () => Promise<VhdxImage>]> = [
    [
      "fixed",
      async () => {
        const image = await newImage({ size: 8 * MiB, blockSize: MiB, type: "fixed" });
        await image.write(MiB - 100, pattern(2 * MiB, 4));
        return image;
      },
    ],
    ["dynamic", () => dynamicImage()],
    [
      "differencing",
      async () => {
        const parent = await dynamicImage();
        const child = await newImage({ type: "differencing", parent, parentLocator: { relative_path: "parent.vhdx" } });
        await child.write(MiB - 512, pattern(1536, 5));
        await child.write(6 * MiB + 4096, pattern(MiB, 6));
        return child;
      },
    ],
  ];
  for (const [kind, make] of kinds) {
    it(`gives the bytes image.read gives, on a ${kind} disk`, async () => {
      const image = await make();
      for (const [offset, length] of RANGES) {
        const expected = await image.read(offset, length ?? image.virtualSize - offset);
        for (const chunkSize of [64 * KiB, MiB, 3 * MiB + 7]) {
          const chunks = await collect(image.stream(offset, length, { chunkSize }));
          expect(Buffer.from(concat(chunks)).equals(expected), `${offset}+${length} by ${chunkSize}`).toBe(true);
        }
      }
    });
  }

  it("reads the whole disk by default, in chunks of at most chunkSize that end on its multiples", async () => {
    const image = await dynamicImage();
    const whole = await collect(image.stream(0, undefined, { chunkSize: MiB }));
    expect(whole.map((c) => c.length)).toEqual(Array(8).fill(MiB));
    expect((await collect(image.stream())).map((c) => c.length)).toEqual([8 * MiB]);
    const chunkSize = 256 * KiB;
    const chunks = await collect(image.stream(100_000, 900_000, { chunkSize }));
    expect(chunks.map((c) => c.length)).toEqual([chunkSize - 100_000, chunkSize, chunkSize, 1_000_000 - 3 * chunkSize]);
  });

  it("fills the buffers allocate makes, and errors when one has the wrong length", async () => {
    const image = await dynamicImage();
    const made: Uint8Array[] = [];
    const allocate = (size: number) => {
      const buffer = new Uint8Array(size).fill(0xee);
      made.push(buffer);
      return buffer;
    };
    const chunks = await collect(image.stream(MiB - 10, 2 * MiB, { allocate }));
    expect(chunks.length).toBe(made.length);
    expect(chunks.every((chunk, i) => chunk === made[i])).toBe(true);
    expect(Buffer.from(concat(chunks)).equals(await image.read(MiB - 10, 2 * MiB))).toBe(true);
    const wrong = image.stream(0, MiB, { allocate: (size) => new Uint8Array(size - 1) });
    expect(await failure(wrong.getReader().read())).toBeInstanceOf(TypeError);
  });

  it("reads ahead of a slow consumer no more than highWaterMark plus one chunk", async () => {
    const source = new CountingSource();
    const image = await newImage({ size: 16 * MiB, blockSize: MiB, type: "fixed" }, source);
    await image.read(0, 1); // loads the BAT: from here on, every read is of payload
    const chunkSize = 64 * KiB;
    const highWaterMark = 4 * chunkSize;
    const start = source.bytesRead;
    const reader = image.stream(0, undefined, { chunkSize, highWaterMark }).getReader();
    await settle();
    expect(source.bytesRead - start).toBeLessThanOrEqual(highWaterMark + chunkSize);
    let consumed = 0;
    let mostAhead = 0;
    for (let next = await reader.read(); !next.done; next = await reader.read()) {
      consumed += next.value.length;
      await settle();
      const ahead = source.bytesRead - start - consumed;
      mostAhead = Math.max(mostAhead, ahead);
      expect(ahead, `after ${consumed} bytes`).toBeLessThanOrEqual(highWaterMark + chunkSize);
    }
    expect(consumed).toBe(16 * MiB);
    expect(mostAhead).toBeGreaterThanOrEqual(highWaterMark);
  });

  it("stops reading when cancelled", async () => {
    const source = new CountingSource();
    const image = await newImage({ size: 16 * MiB, blockSize: MiB, type: "fixed" }, source);
    await image.read(0, 1);
    const chunkSize = 64 * KiB;
    const start = source.bytesRead;
    const reader = image.stream(0, undefined, { chunkSize, highWaterMark: 2 * chunkSize }).getReader();
    await reader.read();
    await reader.read();
    await reader.cancel();
    const atCancel = source.bytesRead;
    await settle();
    await settle();
    expect(source.bytesRead - atCancel).toBeLessThanOrEqual(chunkSize);
    expect(source.bytesRead - start).toBeLessThanOrEqual(5 * chunkSize);
    expect((await reader.read()).done).toBe(true);
  });

  it("errors with the read's error when a read fails", async () => {
    const source = new CountingSource();
    const image = await newImage({ size: 8 * MiB, blockSize: MiB, type: "fixed" }, source);
    await image.read(0, 1);
    source.failFrom = (await source.size()) - 2 * MiB;
    const reader = image.stream(0, undefined, { chunkSize: MiB }).getReader();
    let received = 0;
    const error = await failure(
      (async () => {
        for (let next = await reader.read(); !next.done; next = await reader.read()) received += next.value.length;
      })(),
    );
    expect(error).toMatchObject({ code: "IO_ERROR" });
    expect(received).toBeGreaterThan(0);
    expect(received).toBeLessThan(8 * MiB);
  });

  it("errors with OUT_OF_RANGE for a range outside the disk, and throws TypeError for one that is not numbers", async () => {
    const image = await dynamicImage();
    for (const [offset, length] of [
      [-1, 10],
      [0, 8 * MiB + 1],
      [8 * MiB + 1, undefined],
      [1.5, 2],
    ] as Array<[number, number | undefined]>) {
      const error = await failure(image.stream(offset, length).getReader().read());
      expect(VhdxError.isInstance(error), `${offset}+${length}: ${error}`).toBe(true);
      expect((error as VhdxError).code).toBe("OUT_OF_RANGE");
    }
    expect(() => image.stream("0" as unknown as number)).toThrow(TypeError);
    expect(() => image.stream(0, 1, { chunkSize: 0 })).toThrow(/chunkSize/);
    expect(() => image.stream(0, 1, { chunksize: 1 } as object)).toThrow(/did you mean "chunkSize"/);
  });

  it("errors with CLOSED on a closed image, and when the image is closed while streaming", async () => {
    const image = await dynamicImage();
    const reader = image.stream(0, undefined, { chunkSize: MiB, highWaterMark: 0 }).getReader();
    expect((await reader.read()).value?.length).toBe(MiB);
    await image.close();
    expect(await failure(reader.read())).toMatchObject({ code: "CLOSED" });
    expect(await failure(image.stream().getReader().read())).toMatchObject({ code: "CLOSED" });
  });
});
