import { describe, expect, it } from "vitest";
import { findActiveSequence } from "../src/index.js";
import {
  encodeEntry,
  type GenDescriptor,
  GUID,
  KiB,
  MiB,
  NIL,
  OTHER_GUID,
  pattern,
  put,
  putChain,
  SECTOR,
  smallEntry,
} from "./helpers.js";

const RING = 64 * KiB;

/** An entry of `sectors` sectors (1 descriptor sector + data sectors), tail given. */
function entry(sequenceNumber: bigint, tail: number, sectors = 2, extra: { logGuid?: string } = {}): Uint8Array {
  const descriptors: GenDescriptor[] = [];
  for (let i = 0; i < sectors - 1; i++)
    descriptors.push({
      kind: "data",
      fileOffset: 2 * MiB + i * SECTOR,
      data: pattern(Number(sequenceNumber) * 100 + i),
    });
  if (sectors === 1) descriptors.push({ kind: "zero", fileOffset: 3 * MiB, zeroLength: SECTOR });
  return encodeEntry({ sequenceNumber, tail, descriptors, ...extra });
}

const offsetsOf = (sequence: ReturnType<typeof findActiveSequence>) => sequence?.entries.map((e) => e.offset);
const numbersOf = (sequence: ReturnType<typeof findActiveSequence>) =>
  sequence?.entries.map((e) => e.header.sequenceNumber);

describe("findActiveSequence", () => {
  it("finds nothing in an empty log, and nothing at all when LogGuid is nil", () => {
    expect(findActiveSequence(new Uint8Array(RING), GUID)).toBeNull();
    const ring = new Uint8Array(RING);
    put(ring, 0, smallEntry(1n, 0));
    expect(findActiveSequence(ring, NIL)).toBeNull();
  });

  it("a sequence of several entries of different sizes, tail to head", () => {
    const ring = new Uint8Array(RING);
    const offsets = putChain(ring, 0, [entry(5n, 0, 2), entry(6n, 0, 1), entry(7n, 0, 4)]);
    expect(offsets).toEqual([0, 8 * KiB, 12 * KiB]);
    const sequence = findActiveSequence(ring, GUID);
    expect(offsetsOf(sequence)).toEqual(offsets);
    expect(numbersOf(sequence)).toEqual([5n, 6n, 7n]);
    expect(sequence?.head.offset).toBe(12 * KiB);
    expect(sequence?.tailOffset).toBe(0);
    expect(sequence?.nextOffset).toBe(28 * KiB);
  });

  it("starts at the head's Tail even when the chain of valid entries goes further back", () => {
    const ring = new Uint8Array(RING);
    // 3..7 are one chain; 7 says its sequence starts at 5 (3 and 4 are already applied).
    const at = (k: number) => k * 2 * SECTOR;
    putChain(ring, 0, [entry(3n, at(0)), entry(4n, at(0)), entry(5n, at(2)), entry(6n, at(2)), entry(7n, at(2))]);
    const sequence = findActiveSequence(ring, GUID);
    expect(numbersOf(sequence)).toEqual([5n, 6n, 7n]);
    expect(sequence?.tailOffset).toBe(at(2));
  });

  it("a sequence that wraps around the end of the ring, with an entry cut in two", () => {
    const ring = new Uint8Array(RING);
    // Stale, complete and of the same LogGuid: the sequence 10..12 from an earlier lap.
    putChain(ring, 16 * KiB, [entry(10n, 16 * KiB), entry(11n, 16 * KiB), entry(12n, 16 * KiB)]);
    // 20 at 52 KiB, 21 from 60 KiB over the end to 8 KiB, 22 at 8 KiB.
    const offsets = putChain(ring, 52 * KiB, [
      entry(20n, 52 * KiB, 2),
      entry(21n, 52 * KiB, 3),
      entry(22n, 52 * KiB, 2),
    ]);
    expect(offsets).toEqual([52 * KiB, 60 * KiB, 8 * KiB]);
    const sequence = findActiveSequence(ring, GUID);
    expect(offsetsOf(sequence)).toEqual(offsets);
    expect(sequence?.nextOffset).toBe(16 * KiB);
    const cut = sequence!.entries[1]!;
    expect(cut.descriptors.map((d) => d.kind === "data" && d.data)).toEqual([pattern(2100), pattern(2101)]);
  });

  it("prefers the highest head sequence number, not the longest sequence", () => {
    const ring = new Uint8Array(RING);
    putChain(ring, 0, [entry(3n, 0), entry(4n, 0), entry(5n, 0), entry(6n, 0)]);
    put(ring, 40 * KiB, entry(9n, 40 * KiB));
    expect(numbersOf(findActiveSequence(ring, GUID))).toEqual([9n]);
  });

  it("ignores entries of another LogGuid, even with higher sequence numbers", () => {
    const ring = new Uint8Array(RING);
    put(ring, 0, entry(4n, 0));
    putChain(ring, 16 * KiB, [
      entry(50n, 16 * KiB, 2, { logGuid: OTHER_GUID }),
      entry(51n, 16 * KiB, 2, { logGuid: OTHER_GUID }),
    ]);
    expect(numbersOf(findActiveSequence(ring, GUID))).toEqual([4n]);
    expect(numbersOf(findActiveSequence(ring, OTHER_GUID))).toEqual([50n, 51n]);
  });

  it("ignores a torn entry after the head", () => {
    const ring = new Uint8Array(RING);
    const offsets = putChain(ring, 0, [entry(20n, 0), entry(21n, 0), entry(22n, 0, 3)]);
    // 22's write was torn: its last data sector still holds old bytes.
    ring.fill(0xee, offsets[2]! + 2 * SECTOR, offsets[2]! + 2 * SECTOR + 2000);
    expect(numbersOf(findActiveSequence(ring, GUID))).toEqual([20n, 21n]);
  });

  it("a stale sequence of an older session becomes active only when the newer one is gone", () => {
    const ring = new Uint8Array(RING);
    putChain(ring, 32 * KiB, [entry(2n, 32 * KiB), entry(3n, 32 * KiB)]);
    put(ring, 0, entry(8n, 0));
    expect(numbersOf(findActiveSequence(ring, GUID))).toEqual([8n]);
    ring.fill(0, 0, SECTOR);
    expect(numbersOf(findActiveSequence(ring, GUID))).toEqual([2n, 3n]);
  });

  it("a head whose Tail points at no entry of its chain is incomplete", () => {
    for (const tail of [
      40 * KiB /* nothing there */,
      16 * KiB /* just after the head */,
      48 * KiB /* another chain */,
    ]) {
      const ring = new Uint8Array(RING);
      putChain(ring, 0, [entry(5n, 0), entry(6n, tail)]);
      put(ring, 48 * KiB, entry(1n, 48 * KiB));
      // 6 is the head of the chain 5, 6 and its sequence is incomplete; 5 is not a head (6 continues it).
      expect(numbersOf(findActiveSequence(ring, GUID))).toEqual([1n]);
    }
  });

  it("a gap or a skipped sequence number breaks the chain", () => {
    const gap = new Uint8Array(RING);
    put(gap, 0, entry(5n, 0));
    put(gap, 12 * KiB, entry(6n, 0)); // starts one sector after 5 ends
    expect(numbersOf(findActiveSequence(gap, GUID))).toEqual([5n]);
    const skip = new Uint8Array(RING);
    putChain(skip, 0, [entry(5n, 0), entry(7n, 0)]);
    expect(numbersOf(findActiveSequence(skip, GUID))).toEqual([5n]);
  });

  it("a sequence that fills the whole ring", () => {
    const ring = new Uint8Array(RING);
    const entries = Array.from({ length: RING / SECTOR }, (_, i) => entry(BigInt(i + 1), 0, 1));
    putChain(ring, 0, entries);
    const sequence = findActiveSequence(ring, GUID);
    expect(sequence?.entries).toHaveLength(16);
    expect(sequence?.head.offset).toBe(RING - SECTOR);
    expect(sequence?.nextOffset).toBe(0);
  });

  it("an entry as long as the ring", () => {
    const ring = new Uint8Array(RING);
    put(ring, 20 * KiB, entry(3n, 20 * KiB, 16));
    const sequence = findActiveSequence(ring, GUID);
    expect(sequence?.head.descriptors).toHaveLength(15);
    expect(sequence?.nextOffset).toBe(20 * KiB);
  });

  it("the README's picture: 21, 22, 23 over the ring's end, a torn 24, and 9, 10 from an earlier lap", () => {
    const ring = new Uint8Array(RING);
    const sector = (n: number) => n * SECTOR;
    put(ring, sector(13), entry(20n, sector(13), 2));
    put(ring, sector(15), entry(21n, sector(15), 2));
    put(ring, sector(1), entry(22n, sector(15), 1));
    put(ring, sector(2), entry(23n, sector(15), 3));
    const torn = entry(24n, sector(15), 2);
    put(ring, sector(5), torn.subarray(0, SECTOR + 100));
    put(ring, sector(8), entry(9n, sector(8), 1));
    put(ring, sector(9), entry(10n, sector(8), 2));
    const sequence = findActiveSequence(ring, GUID);
    expect(numbersOf(sequence)).toEqual([21n, 22n, 23n]);
    expect(offsetsOf(sequence)).toEqual([sector(15), sector(1), sector(2)]);
    expect(sequence?.nextOffset).toBe(sector(5));
    // Without 20..23, the earlier lap's 9, 10 is the active sequence.
    ring.fill(0, sector(13), sector(16));
    expect(numbersOf(findActiveSequence(ring, GUID))).toEqual([9n, 10n]);
  });

  it("a log of QEMU's kind: one entry per update, each its own tail, going round the ring", () => {
    const ring = new Uint8Array(RING);
    let at = 0;
    for (let n = 1n; n <= 40n; n++) at = put(ring, at, entry(n, at));
    expect(numbersOf(findActiveSequence(ring, GUID))).toEqual([40n]);
  });

  it("works on a 4 MiB ring with a full MiB of stale entries", () => {
    const ring = new Uint8Array(4 * MiB);
    let at = 0;
    for (let n = 1n; n <= 200n; n++) at = put(ring, at, entry(n, at, 8));
    expect(numbersOf(findActiveSequence(ring, GUID))).toEqual([200n]);
  });
});
