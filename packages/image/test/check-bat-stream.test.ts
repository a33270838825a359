// The BAT streamer of checkImage against a plain loop over the same bytes:
// it must visit exactly the entries that can tell a check something, in
// order, across piece boundaries, chunk boundaries and template runs that
// differ in one entry.
import { Buffer } from "node:buffer";
import { describe, expect, it } from "vitest";
import { PIECE_ENTRIES, forEachBatEntry, portableBytesEqual } from "../src/check/bat-stream.js";
import { MemorySource } from "../src/index.js";

function expectedVisits(bytes: Uint8Array, offset: number, count: number, period: number): number[] {
  const padded = new Uint8Array(offset + count * 8);
  padded.set(bytes.subarray(0, padded.length));
  const view = new DataView(padded.buffer);
  const visits: number[] = [];
  for (let index = 0; index < count; index++) {
    const low = view.getUint32(offset + index * 8, true);
    const high = view.getUint32(offset + index * 8 + 4, true);
    const bitmapSlot = index % period === period - 1;
    if (bitmapSlot || high !== 0 || low > 3) visits.push(index, low, high);
  }
  return visits;
}

const nativeBytesEqual = (a: Uint8Array, b: Uint8Array) => Buffer.compare(a, b) === 0;

async function streamedVisits(
  bytes: Uint8Array,
  offset: number,
  count: number,
  period: number,
  bytesEqual = nativeBytesEqual,
): Promise<{ visits: number[]; progress: number[] }> {
  const visits: number[] = [];
  const progress: number[] = [];
  const stream = {
    source: new MemorySource(bytes, { readOnly: true }),
    batOffset: offset,
    geometry: { batEntryCount: count, chunkRatio: period - 1 },
    bytesEqual,
    onPiece: (done: number) => progress.push(done),
  };
  await forEachBatEntry(stream, (index, table) => {
    const raw = new DataView(table.bytes.buffer, table.bytes.byteOffset + (index - table.firstEntry) * 8, 8);
    visits.push(index, raw.getUint32(0, true), raw.getUint32(4, true));
  });
  return { visits, progress };
}

/** A BAT of `count` entries filled with `fill`, at `offset` in a buffer. */
function bat(offset: number, count: number, fill: number): { bytes: Uint8Array; view: DataView } {
  const bytes = new Uint8Array(offset + count * 8);
  const view = new DataView(bytes.buffer);
  for (let index = 0; index < count; index++) view.setUint32(offset + index * 8, fill, true);
  return { bytes, view };
}

describe("forEachBatEntry", () => {
  it("visits only sector bitmap slots of an unallocated BAT, whatever the unallocated state", async () => {
    for (const fill of [0, 1, 2, 3]) {
      const count = PIECE_ENTRIES + 5000;
      const { bytes } = bat(4096, count, fill);
      const { visits, progress } = await streamedVisits(bytes, 4096, count, 4097);
      expect(visits).toEqual(expectedVisits(bytes, 4096, count, 4097));
      expect(visits.length / 3).toBe(Math.floor(count / 4097));
      expect(progress).toEqual([PIECE_ENTRIES, count]);
    }
  });

  it("finds one odd entry in an otherwise uniform run, on either side of piece and chunk boundaries", async () => {
    const period = 2049;
    const count = 2 * PIECE_ENTRIES + 3 * period + 17;
    const { bytes, view } = bat(0, count, 2);
    const odd = [
      0,
      1,
      period - 2,
      period,
      PIECE_ENTRIES - 1,
      PIECE_ENTRIES,
      PIECE_ENTRIES + 1,
      2 * PIECE_ENTRIES - 2,
      count - 1,
    ];
    odd.forEach((index, n) => {
      if (n % 3 === 0)
        view.setUint32(index * 8, 6 | ((n + 1) << 20), true); // a present block
      else if (n % 3 === 1)
        view.setUint32(index * 8 + 4, 1, true); // state 2, but an offset in the high word
      else view.setUint32(index * 8, 2 | (1 << 5), true); // reserved bits
    });
    view.setUint32((3 * period + 5) * 8, 0, true); // NOT_PRESENT among ZERO entries: nothing to visit
    const { visits } = await streamedVisits(bytes, 0, count, period);
    expect(visits).toEqual(expectedVisits(bytes, 0, count, period));
    for (const index of odd) expect(visits).toContain(index);
  });

  it("skips the same runs with the portable comparison as with memcmp", async () => {
    const period = 4097;
    const count = PIECE_ENTRIES + 3 * period;
    const { bytes, view } = bat(8, count, 3);
    for (const index of [5, period + 7, PIECE_ENTRIES + 1]) view.setUint32(8 + index * 8, 3 | (1 << 9), true);
    const portable = await streamedVisits(bytes, 8, count, period, portableBytesEqual);
    expect(portable.visits).toEqual(expectedVisits(bytes, 8, count, period));
    expect(portable).toEqual(await streamedVisits(bytes, 8, count, period));
  });

  it("agrees with a plain loop on random entries and periods", async () => {
    let seed = 12345;
    const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    for (const period of [2, 4097, 32769]) {
      const count = PIECE_ENTRIES + Math.floor(random() * 100000);
      const { bytes, view } = bat(512, count, 0);
      for (let n = 0; n < 2000; n++) {
        const index = Math.floor(random() * count);
        view.setUint32(512 + index * 8, Math.floor(random() * 2 ** 32), true);
        if (random() < 0.3) view.setUint32(512 + index * 8 + 4, Math.floor(random() * 16), true);
      }
      const { visits } = await streamedVisits(bytes, 512, count, period);
      expect(visits).toEqual(expectedVisits(bytes, 512, count, period));
    }
  });

  it("reads a BAT cut short by the end of the file as zeros", async () => {
    const count = 10000;
    const { bytes } = bat(0, count, 6 | (1 << 20));
    const cut = bytes.subarray(0, 4000 * 8 + 3);
    const { visits } = await streamedVisits(cut, 0, count, 4097);
    expect(visits).toEqual(expectedVisits(cut, 0, count, 4097));
    // 4000 whole entries, then one cut after 3 bytes (its low word still reads 6 | 1 << 20).
    expect(visits.filter((_, i) => i % 3 === 1 && visits[i]! !== 0).length).toBe(4001);
  });
});
