import { describe, expect, it } from "vitest";
import { planReplay } from "../src/index.js";
import { encodeEntry, expectVhdxError, GUID, KiB, MiB, NIL, OTHER_GUID, pattern, putChain, SECTOR } from "./helpers.js";

const RING = 64 * KiB;

function twoEntryLog(): Uint8Array {
  const ring = new Uint8Array(RING);
  const first = pattern(1);
  first.set([9, 9, 9, 9, 9, 9, 9, 9], 0); // leading bytes
  first.set([7, 7, 7, 7], 4092); // trailing bytes
  putChain(ring, 52 * KiB, [
    encodeEntry({
      sequenceNumber: 41n,
      tail: 52 * KiB,
      flushedFileOffset: 3 * MiB,
      lastFileOffset: 4 * MiB,
      descriptors: [
        { kind: "data", fileOffset: 2 * MiB, data: first },
        { kind: "zero", fileOffset: 8 * MiB, zeroLength: 2 * MiB },
      ],
    }),
    encodeEntry({
      sequenceNumber: 42n,
      tail: 52 * KiB,
      flushedFileOffset: 4 * MiB,
      lastFileOffset: 12 * MiB,
      descriptors: [
        { kind: "zero", fileOffset: 2 * MiB, zeroLength: SECTOR },
        { kind: "data", fileOffset: 2 * MiB + SECTOR, data: pattern(2) },
        { kind: "data", fileOffset: 16 * MiB, data: pattern(3) },
      ],
    }),
  ]);
  return ring;
}

describe("planReplay", () => {
  it("lists every descriptor of every entry, tail to head, in stored order", () => {
    const plan = planReplay(twoEntryLog(), GUID, 4 * MiB);
    const first = pattern(1);
    first.set([9, 9, 9, 9, 9, 9, 9, 9], 0);
    first.set([7, 7, 7, 7], 4092);
    expect(plan.operations).toEqual([
      { kind: "write", fileOffset: 2 * MiB, data: first },
      { kind: "zero", fileOffset: 8 * MiB, length: 2 * MiB },
      { kind: "zero", fileOffset: 2 * MiB, length: SECTOR },
      { kind: "write", fileOffset: 2 * MiB + SECTOR, data: pattern(2) },
      { kind: "write", fileOffset: 16 * MiB, data: pattern(3) },
    ]);
    expect(plan.fileSize).toBe(12 * MiB);
    expect(plan.flushedFileOffset).toBe(4 * MiB);
    expect(plan.operationsEnd).toBe(16 * MiB + SECTOR);
    expect(plan.sequence.entries.map((e) => e.header.sequenceNumber)).toEqual([41n, 42n]);
    expect(plan.sequence.tailOffset).toBe(52 * KiB);
  });

  it("TRUNCATED when the file is shorter than the head's FlushedFileOffset", () => {
    const error = expectVhdxError(
      () => planReplay(twoEntryLog(), GUID, 4 * MiB - 1, 1 * MiB),
      "TRUNCATED",
      "flushedFileOffset",
    );
    expect(error.message).toMatch(/truncated/);
    expect(error.offset).toBe(MiB + 60 * KiB); // the head entry, which wraps over the ring's end
    expect(planReplay(twoEntryLog(), GUID, 4 * MiB).operations).toHaveLength(5);
  });

  it("LOG_CORRUPT when LogGuid is set and no sequence is valid, at the log's file offset", () => {
    const error = expectVhdxError(() => planReplay(new Uint8Array(RING), GUID, 4 * MiB, MiB), "LOG_CORRUPT");
    expect(error.message).toMatch(/no valid/);
    expect(error.message).toContain(GUID);
    expect(error.offset).toBe(MiB);
    expectVhdxError(() => planReplay(twoEntryLog(), OTHER_GUID, 4 * MiB), "LOG_CORRUPT");
  });

  it("carries a huge ZeroLength as a number and allocates nothing for it", () => {
    const ring = new Uint8Array(RING);
    putChain(ring, 0, [
      encodeEntry({
        sequenceNumber: 1n,
        tail: 0,
        descriptors: [{ kind: "zero", fileOffset: 4 * MiB, zeroLength: 2 ** 50 }],
      }),
    ]);
    const plan = planReplay(ring, GUID, 4 * MiB);
    expect(plan.operations).toEqual([{ kind: "zero", fileOffset: 4 * MiB, length: 2 ** 50 }]);
    expect(plan.operationsEnd).toBe(4 * MiB + 2 ** 50);
  });

  it("an entry with no descriptors replays nothing but still sets the file size", () => {
    const ring = new Uint8Array(RING);
    putChain(ring, 0, [encodeEntry({ sequenceNumber: 3n, tail: 0, flushedFileOffset: 0, lastFileOffset: 9 * MiB })]);
    const plan = planReplay(ring, GUID, 0);
    expect(plan.operations).toEqual([]);
    expect(plan.fileSize).toBe(9 * MiB);
    expect(plan.operationsEnd).toBe(0);
  });

  it("refuses a nil LogGuid and arguments of the wrong kind", () => {
    expect(() => planReplay(twoEntryLog(), NIL, 4 * MiB)).toThrow(TypeError);
    expect(() => planReplay(twoEntryLog(), GUID, -1)).toThrow(TypeError);
    expect(() => planReplay(twoEntryLog(), GUID, 1.5)).toThrow(TypeError);
    expect(() => planReplay(twoEntryLog(), GUID, 0, -5)).toThrow(TypeError);
    expectVhdxError(() => planReplay(new Uint8Array(100), GUID, 0), "BAD_FIELD");
  });
});
