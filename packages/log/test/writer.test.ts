import {
  decodeDataDescriptor,
  decodeDataSector,
  decodeLogEntryHeader,
  decodeZeroDescriptor,
  joinLogUpdate,
  verifyLogEntryChecksum,
} from "@vhdx/structs";
import { describe, expect, it } from "vitest";
import { findActiveSequence, LogWriter, type LogWriterState, planReplay } from "../src/index.js";
import { descriptorAt, expectVhdxError, GUID, KiB, MiB, NIL, pattern, put, SECTOR } from "./helpers.js";

const OFFSETS = { flushedFileOffset: 4 * MiB, lastFileOffset: 5 * MiB };
const fresh = (extra: Partial<LogWriterState> = {}) =>
  new LogWriter({ logLength: MiB, logGuid: GUID, nextOffset: 0, nextSequenceNumber: 1n, ...extra });

describe("LogWriter.append", () => {
  it("lays out header, descriptors and data sectors as MS-VHDX 2.3.1 says", () => {
    const writer = fresh({ nextOffset: 20 * KiB, nextSequenceNumber: 7n });
    const data = pattern(1, 2 * SECTOR);
    const { entry, pieces, sequenceNumber, offset } = writer.append(
      [
        { fileOffset: 2 * MiB, data },
        { fileOffset: 6 * MiB, zeroLength: 3 * SECTOR },
      ],
      OFFSETS,
    );
    expect(sequenceNumber).toBe(7n);
    expect(offset).toBe(20 * KiB);
    expect(pieces).toEqual([{ ringOffset: 20 * KiB, bytes: entry }]);
    expect(verifyLogEntryChecksum(entry)).toBe(true);
    expect(decodeLogEntryHeader(entry)).toMatchObject({
      signature: "loge",
      entryLength: 3 * SECTOR,
      tail: 20 * KiB,
      sequenceNumber: 7n,
      descriptorCount: 3,
      reserved: 0,
      logGuid: GUID,
      flushedFileOffset: 4 * MiB,
      lastFileOffset: 5 * MiB,
    });
    for (const k of [0, 1]) {
      const descriptor = decodeDataDescriptor(entry, descriptorAt(k));
      expect(descriptor).toMatchObject({ signature: "desc", fileOffset: 2 * MiB + k * SECTOR, sequenceNumber: 7n });
      const sector = decodeDataSector(entry, (1 + k) * SECTOR);
      expect(sector).toMatchObject({ signature: "data", sequenceHigh: 0, sequenceLow: 7 });
      expect(joinLogUpdate(descriptor, sector)).toEqual(data.subarray(k * SECTOR, (k + 1) * SECTOR));
    }
    expect(decodeZeroDescriptor(entry, descriptorAt(2))).toMatchObject({
      signature: "zero",
      zeroLength: 3 * SECTOR,
      fileOffset: 6 * MiB,
      sequenceNumber: 7n,
    });
    expect(writer.state).toEqual({
      logLength: MiB,
      logGuid: GUID,
      nextOffset: 32 * KiB,
      nextSequenceNumber: 8n,
      previousEntry: { offset: 20 * KiB, length: 3 * SECTOR },
    });
  });

  it("wraps an entry that runs past the ring's end into two pieces", () => {
    const writer = fresh({ nextOffset: MiB - SECTOR });
    const { entry, pieces } = writer.append([{ fileOffset: 0, data: pattern(2, 2 * SECTOR) }], OFFSETS);
    expect(pieces.map((p) => [p.ringOffset, p.bytes.length])).toEqual([
      [MiB - SECTOR, SECTOR],
      [0, 2 * SECTOR],
    ]);
    expect(pieces[1]!.bytes).toEqual(entry.subarray(SECTOR));
    expect(writer.state.nextOffset).toBe(2 * SECTOR);
    const ring = new Uint8Array(MiB);
    for (const piece of pieces) ring.set(piece.bytes, piece.ringOffset);
    expect(findActiveSequence(ring, GUID)?.head.offset).toBe(MiB - SECTOR);
  });

  it("numbers entries one after the other and starts a new one where the last ended", () => {
    const writer = fresh();
    const a = writer.append([{ fileOffset: 0, zeroLength: SECTOR }], OFFSETS);
    const b = writer.append([{ fileOffset: 0, zeroLength: SECTOR }], OFFSETS);
    expect([a.sequenceNumber, b.sequenceNumber]).toEqual([1n, 2n]);
    expect([a.offset, b.offset]).toEqual([0, SECTOR]);
    expect(decodeLogEntryHeader(b.entry).tail).toBe(SECTOR);
  });

  it("writes an entry with no descriptors (to record new file offsets)", () => {
    const { entry } = fresh().append([], { flushedFileOffset: 0, lastFileOffset: 7 * MiB });
    expect(entry.length).toBe(SECTOR);
    expect(decodeLogEntryHeader(entry)).toMatchObject({ descriptorCount: 0, lastFileOffset: 7 * MiB });
  });

  it("uses a second descriptor sector from 127 descriptors on", () => {
    const zeros = (n: number) => Array.from({ length: n }, (_, i) => ({ fileOffset: i * SECTOR, zeroLength: SECTOR }));
    expect(LogWriter.entryLength(zeros(126))).toBe(SECTOR);
    expect(LogWriter.entryLength(zeros(127))).toBe(2 * SECTOR);
    expect(LogWriter.entryLength([{ fileOffset: 0, data: new Uint8Array(126 * SECTOR) }])).toBe(127 * SECTOR);
    expect(LogWriter.entryLength([{ fileOffset: 0, data: new Uint8Array(127 * SECTOR) }])).toBe(129 * SECTOR);
    expect(LogWriter.entryLength([])).toBe(SECTOR);
    const { entry } = fresh().append(zeros(127), OFFSETS);
    expect(decodeZeroDescriptor(entry, SECTOR)).toMatchObject({ fileOffset: 126 * SECTOR }); // descriptor 126 opens sector 1
  });
});

describe("LOG_FULL", () => {
  it("when the entry is longer than the log", () => {
    const writer = fresh({ logLength: 64 * KiB });
    const error = expectVhdxError(
      () => writer.append([{ fileOffset: 0, data: new Uint8Array(16 * SECTOR) }], OFFSETS),
      "LOG_FULL",
    );
    expect(error.message).toMatch(/needs 69632 bytes, only 65536/);
  });

  it("when the entry would overwrite the previous entry; the state is left as it was", () => {
    const writer = fresh({ logLength: 64 * KiB, nextOffset: 40 * KiB });
    writer.append([{ fileOffset: 0, data: new Uint8Array(3 * SECTOR) }], OFFSETS); // 40..56 KiB
    expect(writer.available).toBe(48 * KiB);
    const before = writer.state;
    const error = expectVhdxError(
      () => writer.append([{ fileOffset: 0, data: new Uint8Array(12 * SECTOR) }], OFFSETS),
      "LOG_FULL",
    );
    expect(error.message).toMatch(
      /needs 53248 bytes, only 49152 .* free at ring offset 0xe000 without overwriting the previous entry \(16384 bytes at 0xa000\)/,
    );
    expect(writer.state).toEqual(before);
    // Exactly the free space fits, wrapping, and ends where the previous entry starts.
    const { pieces } = writer.append([{ fileOffset: 0, data: new Uint8Array(11 * SECTOR) }], OFFSETS);
    expect(pieces.map((p) => [p.ringOffset, p.bytes.length])).toEqual([
      [56 * KiB, 8 * KiB],
      [0, 40 * KiB],
    ]);
    expect(writer.state.nextOffset).toBe(40 * KiB);
  });

  it("an entry as long as the whole log fits once, then nothing more", () => {
    const writer = fresh({ logLength: 64 * KiB, nextOffset: 8 * KiB });
    writer.append([{ fileOffset: 0, data: new Uint8Array(15 * SECTOR) }], OFFSETS);
    expect(writer.available).toBe(0);
    expectVhdxError(() => writer.append([], OFFSETS), "LOG_FULL");
    expect(new LogWriter(writer.state).available).toBe(0);
  });
});

describe("arguments", () => {
  it("refuses updates that are not whole aligned 4 KiB sectors", () => {
    const writer = fresh();
    expectVhdxError(
      () => writer.append([{ fileOffset: 512, data: new Uint8Array(SECTOR) }], OFFSETS),
      "BAD_FIELD",
      "updates[0].fileOffset",
    );
    expectVhdxError(
      () => writer.append([{ fileOffset: 0, data: new Uint8Array(100) }], OFFSETS),
      "BAD_FIELD",
      "updates[0].data",
    );
    expectVhdxError(
      () => writer.append([{ fileOffset: 0, data: new Uint8Array(0) }], OFFSETS),
      "BAD_FIELD",
      "updates[0].data",
    );
    expectVhdxError(
      () => writer.append([{ fileOffset: 0, zeroLength: 0 }], OFFSETS),
      "BAD_FIELD",
      "updates[0].zeroLength",
    );
    expectVhdxError(
      () =>
        LogWriter.entryLength([
          { fileOffset: 0, zeroLength: SECTOR },
          { fileOffset: 0, zeroLength: 10 },
        ]),
      "BAD_FIELD",
      "updates[1].zeroLength",
    );
    expectVhdxError(
      () => writer.append([{ fileOffset: 2 ** 53 - SECTOR, zeroLength: 2 * SECTOR }], OFFSETS),
      "OUT_OF_RANGE",
    );
    expect(() => writer.append([{ fileOffset: 0 } as never], OFFSETS)).toThrow(TypeError);
    expect(() =>
      writer.append([{ fileOffset: 0, zeroLength: SECTOR, data: new Uint8Array(SECTOR) } as never], OFFSETS),
    ).toThrow(TypeError);
    expect(() => writer.append([{ fileOffset: -1, zeroLength: SECTOR }], OFFSETS)).toThrow(TypeError);
    expect(() => writer.append({} as never, OFFSETS)).toThrow(TypeError);
    expect(writer.state.nextSequenceNumber).toBe(1n);
  });

  it("refuses file offsets that are not 1 MiB multiples", () => {
    expectVhdxError(
      () => fresh().append([], { flushedFileOffset: SECTOR, lastFileOffset: MiB }),
      "BAD_FIELD",
      "flushedFileOffset",
    );
    expectVhdxError(
      () => fresh().append([], { flushedFileOffset: MiB, lastFileOffset: MiB + 1 }),
      "BAD_FIELD",
      "lastFileOffset",
    );
    expect(() => fresh().append([], undefined as never)).toThrow(TypeError);
  });

  it("refuses a state that cannot be", () => {
    expectVhdxError(() => fresh({ logLength: 1000 }), "BAD_FIELD", "logLength");
    expectVhdxError(() => fresh({ nextOffset: 100 }), "OUT_OF_RANGE", "nextOffset");
    expectVhdxError(() => fresh({ nextOffset: MiB }), "OUT_OF_RANGE", "nextOffset");
    expectVhdxError(() => fresh({ nextSequenceNumber: 0n }), "OUT_OF_RANGE", "nextSequenceNumber");
    expectVhdxError(() => fresh({ nextSequenceNumber: 1n << 64n }), "OUT_OF_RANGE", "nextSequenceNumber");
    expectVhdxError(
      () => fresh({ nextOffset: 8 * KiB, previousEntry: { offset: 4 * KiB, length: 8 * KiB } }),
      "BAD_FIELD",
      "nextOffset",
    );
    expectVhdxError(
      () => fresh({ nextOffset: 4 * KiB, previousEntry: { offset: 4 * KiB, length: 8 * KiB } }),
      "BAD_FIELD",
      "nextOffset",
    );
    expectVhdxError(() => fresh({ previousEntry: { offset: 0, length: 0 } }), "BAD_FIELD", "previousEntry.length");
    expect(() => fresh({ logGuid: NIL })).toThrow(TypeError);
    expect(() => fresh({ logGuid: "nope" })).toThrow(TypeError);
    expect(() => fresh({ nextSequenceNumber: 1 as never })).toThrow(TypeError);
  });

  it("stops at the last sequence number", () => {
    const writer = fresh({ nextSequenceNumber: 0xffff_ffff_ffff_ffffn });
    const { entry } = writer.append([{ fileOffset: 0, data: new Uint8Array(SECTOR) }], OFFSETS);
    expect(decodeDataSector(entry, SECTOR)).toMatchObject({ sequenceHigh: 0xffff_ffff, sequenceLow: 0xffff_ffff });
    expectVhdxError(() => writer.append([], OFFSETS), "OUT_OF_RANGE", "sequenceNumber");
  });

  it("hands out copies of its state", () => {
    const writer = fresh();
    writer.append([], OFFSETS);
    const state = writer.state;
    state.previousEntry!.offset = 999;
    state.nextOffset = 123;
    expect(writer.state.previousEntry!.offset).toBe(0);
    expect(writer.state.nextOffset).toBe(SECTOR);
  });
});

describe("a torn append leaves the previous entry active", () => {
  it("at every sector boundary and at odd bytes, including over the ring's end", () => {
    const writer = fresh({ logLength: 64 * KiB, nextOffset: 48 * KiB });
    const ring = new Uint8Array(64 * KiB).fill(0xa5); // old bytes, unlike any the new entry writes
    const first = writer.append([{ fileOffset: 2 * MiB, data: pattern(5, 2 * SECTOR) }], OFFSETS); // 48..60 KiB
    for (const p of first.pieces) put(ring, p.ringOffset, p.bytes);
    const second = writer.append(
      [
        { fileOffset: 3 * MiB, data: pattern(6, 4 * SECTOR) },
        { fileOffset: 0, zeroLength: SECTOR },
      ],
      OFFSETS,
    ); // 60 KiB over the end
    const cuts = [1, 100, SECTOR, SECTOR + 7, 2 * SECTOR, 3 * SECTOR - 1, second.entry.length - 1];
    for (const cut of cuts) {
      const torn = ring.slice();
      put(torn, second.offset, second.entry.subarray(0, cut));
      expect(findActiveSequence(torn, GUID)?.head.header.sequenceNumber, `cut at ${cut}`).toBe(1n);
    }
    // Only the tail of the entry written, its header sector still old.
    const headless = ring.slice();
    put(headless, (second.offset + SECTOR) % ring.length, second.entry.subarray(SECTOR));
    expect(findActiveSequence(headless, GUID)?.head.header.sequenceNumber).toBe(1n);
    // Written whole: it is the active one, and replays exactly what was given.
    for (const p of second.pieces) put(ring, p.ringOffset, p.bytes);
    const plan = planReplay(ring, GUID, 4 * MiB);
    expect(plan.sequence.entries.map((e) => e.offset)).toEqual([60 * KiB]);
    expect(plan.operations.map((o) => [o.kind, o.fileOffset])).toEqual([
      ["write", 3 * MiB],
      ["write", 3 * MiB + SECTOR],
      ["write", 3 * MiB + 2 * SECTOR],
      ["write", 3 * MiB + 3 * SECTOR],
      ["zero", 0],
    ]);
  });
});
