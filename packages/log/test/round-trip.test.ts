// Property: what LogWriter builds, findActiveSequence finds and planReplay
// replays to exactly the updates given; on random update sets, ring sizes and
// ring positions (so entries wrap), over a ring holding an older session's
// entries; and a torn append leaves the entry before it active.
import { describe, expect, it } from "vitest";
import { findActiveSequence, LogWriter, type LogUpdate, planReplay, type ReplayOperation } from "../src/index.js";
import { expectVhdxError, KiB, MiB, pattern, put, random, SECTOR } from "./helpers.js";

function guidOf(seed: number): string {
  const hex = (seed >>> 0).toString(16).padStart(8, "0");
  return `${hex}-1234-4567-89ab-${hex}0000`;
}

function randomUpdates(rnd: (n: number) => number, seed: number, big: boolean): LogUpdate[] {
  const updates: LogUpdate[] = [];
  const count = rnd(6);
  for (let i = 0; i < count; i++) {
    const fileOffset = rnd(1 << 18) * SECTOR; // anywhere in the first GiB
    if (rnd(3) === 0) updates.push({ fileOffset, zeroLength: (1 + rnd(64)) * SECTOR });
    else updates.push({ fileOffset, data: pattern(seed * 31 + i, (1 + rnd(big ? 40 : 6)) * SECTOR) });
  }
  return updates;
}

function expectedOperations(updates: LogUpdate[]): ReplayOperation[] {
  const operations: ReplayOperation[] = [];
  for (const u of updates) {
    if ("zeroLength" in u) operations.push({ kind: "zero", fileOffset: u.fileOffset, length: u.zeroLength });
    else
      for (let at = 0; at < u.data.length; at += SECTOR)
        operations.push({ kind: "write", fileOffset: u.fileOffset + at, data: u.data.slice(at, at + SECTOR) });
  }
  return operations;
}

/** toEqual on thousands of 4 KiB arrays is slow: compare the shapes, then the bytes with a loop. */
function expectSameOperations(actual: ReplayOperation[], expected: ReplayOperation[]): void {
  const shape = (o: ReplayOperation) => [o.kind, o.fileOffset, o.kind === "zero" ? o.length : o.data.length];
  expect(actual.map(shape)).toEqual(expected.map(shape));
  actual.forEach((o, i) => {
    const e = expected[i]!;
    if (o.kind === "write" && e.kind === "write") expect(sameBytes(o.data, e.data), `operation ${i}`).toBe(true);
  });
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

describe("round trip: writer, search, replay", () => {
  it.each(Array.from({ length: 40 }, (_, i) => i + 1))("seed %i", (seed) => {
    const rnd = random(Math.imul(seed, 2654435761));
    const logLength = [64 * KiB, 256 * KiB, MiB][rnd(3)]!;
    const ring = new Uint8Array(logLength);

    // An older session's entries, under another LogGuid, left in the ring.
    const old = new LogWriter({
      logLength,
      logGuid: guidOf(seed + 1000),
      nextOffset: rnd(logLength / SECTOR) * SECTOR,
      nextSequenceNumber: 500n,
    });
    for (let i = 0; i < 5; i++) {
      const updates = randomUpdates(rnd, seed + 7 * i, false);
      if (LogWriter.entryLength(updates) > old.available) break;
      for (const p of old.append(updates, { flushedFileOffset: MiB, lastFileOffset: MiB }).pieces)
        ring.set(p.bytes, p.ringOffset);
    }

    const guid = guidOf(seed);
    const firstNumber = rnd(4) === 0 ? 0xffff_fff0n : 1n; // sometimes across the 32-bit halves of a data sector
    const writer = new LogWriter({
      logLength,
      logGuid: guid,
      nextOffset: rnd(logLength / SECTOR) * SECTOR,
      nextSequenceNumber: firstNumber,
    });
    expect(findActiveSequence(ring, guid)).toBeNull();
    let previous: bigint | undefined;
    let wrapped = 0;
    for (let step = 0; step < 30; step++) {
      const updates = randomUpdates(rnd, seed * 100 + step, rnd(5) === 0);
      const offsets = { flushedFileOffset: (4 + rnd(8)) * MiB, lastFileOffset: (4 + rnd(8)) * MiB };
      if (LogWriter.entryLength(updates) > writer.available) {
        const before = writer.state;
        expectVhdxError(() => writer.append(updates, offsets), "LOG_FULL");
        expect(writer.state).toEqual(before);
        continue;
      }
      const appended = writer.append(updates, offsets);
      if (appended.pieces.length === 2) wrapped++;

      if (rnd(3) === 0) {
        // Torn: only part of the entry reached the ring. Unless the bytes left
        // unwritten already held what the entry has there, the entry before is active.
        const torn = ring.slice();
        put(torn, appended.offset, appended.entry.subarray(0, rnd(appended.entry.length)));
        const whole = appended.pieces.every((p) =>
          sameBytes(torn.subarray(p.ringOffset, p.ringOffset + p.bytes.length), p.bytes),
        );
        expect(findActiveSequence(torn, guid)?.head.header.sequenceNumber).toBe(
          whole ? appended.sequenceNumber : previous,
        );
      }

      for (const p of appended.pieces) ring.set(p.bytes, p.ringOffset);
      const plan = planReplay(ring, guid, offsets.flushedFileOffset, MiB);
      expect(plan.sequence.entries).toHaveLength(1);
      expect(plan.sequence.head.offset).toBe(appended.offset);
      expect(plan.sequence.head.header.sequenceNumber).toBe(appended.sequenceNumber);
      expect(plan.sequence.nextOffset).toBe(writer.state.nextOffset);
      expectSameOperations(plan.operations, expectedOperations(updates));
      expect(plan.fileSize).toBe(offsets.lastFileOffset);
      expect(plan.flushedFileOffset).toBe(offsets.flushedFileOffset);
      previous = appended.sequenceNumber;
    }
    expect(previous).toBeDefined();
    if (logLength === 64 * KiB) expect(wrapped).toBeGreaterThan(0);
  });
});
