// copyRange's pipeline (reads ahead, a zero scan, one or two writes at a time): the
// sink sees every byte once, in order, from buffers nobody overwrites while it
// still holds them; zero grains are left out for sinks that keep holes; and a
// failing read or write ends the copy with that error, nothing unhandled.
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { PIECE, type Sink, copyRange } from "../src/copy.js";
import { ZERO_GRAIN, nonZeroRuns } from "../src/zero-scan.js";
import type { Disk } from "../src/disk.js";

const MiB = 1 << 20;

/** The byte at virtual offset `i`: never zero, and different from its neighbours. */
const patternAt = (i: number) => ((i * 2654435761) >>> 24) | 1;

/** A raw disk of `size` bytes holding the pattern, except zero grains at `zeroGrains`; reads can be made to fail. */
function fakeDisk(size: number, options: { zeroGrains?: number[]; failReadAt?: number } = {}): Disk {
  const zeroGrains = new Set(options.zeroGrains ?? []);
  return {
    path: "fake",
    format: "raw",
    size,
    image: null,
    async readInto(buffer, offset) {
      await sleep(Math.random());
      if (
        options.failReadAt !== undefined &&
        offset <= options.failReadAt &&
        options.failReadAt < offset + buffer.length
      ) {
        throw new Error(`read failed at ${offset}`);
      }
      for (let k = 0; k < buffer.length; k++) {
        const i = offset + k;
        buffer[k] = zeroGrains.has(Math.floor(i / ZERO_GRAIN)) ? 0 : patternAt(i);
      }
    },
    close: async () => undefined,
  };
}

/**
 * A slow sink that checks each buffer is left alone while it holds it, and
 * records what it got; `writesInFlight` calls may overlap, never more.
 */
function checkingSink(
  options: {
    skipsZeroGrains?: boolean;
    failWriteAt?: number;
    writesInFlight?: number;
    writeMs?: (offset: number) => number;
  } = {},
) {
  const calls: Array<[offset: number, length: number]> = [];
  const allowed = options.writesInFlight ?? 1;
  let busy = 0;
  let mostAtOnce = 0;
  const sink: Sink = {
    reusesBuffers: true,
    ...(options.skipsZeroGrains ? { skipsZeroGrains: true } : {}),
    ...(options.writesInFlight ? { writesInFlight: options.writesInFlight } : {}),
    async data(bytes, offset) {
      expect(busy, "more data() calls at once than the sink allows").toBeLessThan(allowed);
      busy++;
      mostAtOnce = Math.max(mostAtOnce, busy);
      const copy = bytes.slice();
      // Slower than a read, so a read into a buffer the sink still holds would show.
      await sleep(options.writeMs?.(offset) ?? 3 + Math.random() * 3);
      if (
        options.failWriteAt !== undefined &&
        offset <= options.failWriteAt &&
        options.failWriteAt < offset + bytes.length
      ) {
        busy--;
        throw new Error(`write failed at ${offset}`);
      }
      expect(Buffer.compare(bytes, copy), `buffer at ${offset} changed while the sink held it`).toBe(0);
      calls.push([offset, bytes.length]);
      busy--;
    },
  };
  return { sink, calls, mostAtOnce: () => mostAtOnce };
}

describe("copyRange", () => {
  it("hands every byte over once, in order, in buffers left alone until the sink is done", async () => {
    const size = 5 * PIECE + 12345;
    const { sink, calls } = checkingSink();
    const progress: number[] = [];
    await copyRange(fakeDisk(size), 0, size, sink, (bytes) => progress.push(bytes));
    let expected = 0;
    for (const [offset, length] of calls) {
      expect(offset).toBe(expected);
      expected += length;
    }
    expect(expected).toBe(size);
    expect(progress.at(-1)).toBe(size);
  });

  it("overlaps two writes for a sink that takes them, every byte once, no buffer reused while held", async () => {
    // Pieces of zeros between data make the reader run two reads ahead while two writes are still in flight.
    const grainsPerPiece = PIECE / ZERO_GRAIN;
    const zeroPieces = [2, 4, 7, 10];
    const zeroGrains = zeroPieces.flatMap((piece) =>
      Array.from({ length: grainsPerPiece }, (_, g) => piece * grainsPerPiece + g),
    );
    const size = 12 * PIECE + 4096;
    const { sink, calls, mostAtOnce } = checkingSink({
      writesInFlight: 2,
      skipsZeroGrains: true,
      // Piece 1's write outlasts several reads: the reader runs two ahead (after piece 2, all zeros) while it is in flight.
      writeMs: (offset) => (offset === PIECE ? 2000 : 5),
    });
    const progress: number[] = [];
    await copyRange(fakeDisk(size, { zeroGrains }), 0, size, sink, (bytes) => progress.push(bytes));
    const written = [...calls].sort((a, b) => a[0] - b[0]).map(([offset, length]) => [offset / PIECE, length]);
    const dataPieces = [0, 1, 3, 5, 6, 8, 9, 11].map((piece) => [piece, PIECE]);
    expect(written).toEqual([...dataPieces, [12, 4096]]);
    expect(mostAtOnce()).toBe(2);
    expect(progress.at(-1)).toBe(size);
  });

  it("leaves zero grains out for a sink that keeps holes", async () => {
    const size = 2 * PIECE;
    const grainsPerPiece = PIECE / ZERO_GRAIN;
    const zeroGrains = [0, 1, 5, grainsPerPiece - 1, grainsPerPiece, 2 * grainsPerPiece - 1];
    const { sink, calls } = checkingSink({ skipsZeroGrains: true });
    await copyRange(fakeDisk(size, { zeroGrains }), 0, size, sink);
    const written = new Set<number>();
    for (const [offset, length] of calls)
      for (let g = offset / ZERO_GRAIN; g < (offset + length) / ZERO_GRAIN; g++) written.add(g);
    for (let g = 0; g < size / ZERO_GRAIN; g++) expect(written.has(g), `grain ${g}`).toBe(!zeroGrains.includes(g));
  });

  it("reads further ahead over pieces of zeros, still never into a buffer the sink holds", async () => {
    const grainsPerPiece = PIECE / ZERO_GRAIN;
    const zeroPieces = [1, 2, 4, 5, 6];
    const zeroGrains = zeroPieces.flatMap((piece) =>
      Array.from({ length: grainsPerPiece }, (_, g) => piece * grainsPerPiece + g),
    );
    const size = 9 * PIECE;
    const { sink, calls } = checkingSink({ skipsZeroGrains: true });
    await copyRange(fakeDisk(size, { zeroGrains }), 0, size, sink);
    expect(calls.map(([offset]) => offset / PIECE)).toEqual([0, 3, 7, 8]);
  });

  it("fails with the read's error, and with the write's", async () => {
    const size = 6 * PIECE;
    await expect(
      copyRange(fakeDisk(size, { failReadAt: 3 * PIECE + 5 }), 0, size, checkingSink().sink),
    ).rejects.toThrow(/read failed/);
    await expect(copyRange(fakeDisk(size), 0, size, checkingSink({ failWriteAt: 2 * PIECE + 7 }).sink)).rejects.toThrow(
      /write failed/,
    );
    await expect(
      copyRange(fakeDisk(size), 0, size, checkingSink({ failWriteAt: 3 * PIECE + 7, writesInFlight: 2 }).sink),
    ).rejects.toThrow(/write failed/);
    await sleep(20); // a read still in flight when the copy gave up must not surface as an unhandled rejection
  });
});

describe("nonZeroRuns", () => {
  it("gives the stretches that are not whole zero grains", () => {
    const bytes = new Uint8Array(5 * ZERO_GRAIN + 100);
    expect(nonZeroRuns(bytes)).toEqual([]);
    bytes[ZERO_GRAIN + 3] = 1;
    bytes[3 * ZERO_GRAIN] = 1;
    bytes[4 * ZERO_GRAIN - 1] = 1;
    bytes[5 * ZERO_GRAIN + 99] = 1;
    expect(nonZeroRuns(bytes)).toEqual([
      ZERO_GRAIN,
      2 * ZERO_GRAIN,
      3 * ZERO_GRAIN,
      4 * ZERO_GRAIN,
      5 * ZERO_GRAIN,
      5 * ZERO_GRAIN + 100,
    ]);
    expect(nonZeroRuns(new Uint8Array(MiB).fill(9))).toEqual([0, MiB]);
  });
});
