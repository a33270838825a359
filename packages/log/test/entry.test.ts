import { computeLogEntryChecksum, decodeLogEntryHeader } from "@vhdx/structs";
import { describe, expect, it } from "vitest";
import { findActiveSequence, planReplay, readLogEntry } from "../src/index.js";
import {
  descriptorAt,
  encodeEntry,
  expectVhdxError,
  type GenEntry,
  GUID,
  KiB,
  MiB,
  NIL,
  OTHER_GUID,
  pattern,
  put,
  rechecksum,
  SECTOR,
  smallEntry,
  writeU32,
  writeU64,
} from "./helpers.js";

const RING = 64 * KiB;
const B_OFFSET = 8 * KiB;

/** Entry B: seq 2, its own tail, a data descriptor (distinct leading and trailing bytes) then a zero descriptor. */
function entryB(extra: Partial<GenEntry> = {}): Uint8Array {
  const data = pattern(7);
  data.set([1, 2, 3, 4, 5, 6, 7, 8], 0);
  data.set([0xfc, 0xfd, 0xfe, 0xff], 4092);
  return encodeEntry({
    sequenceNumber: 2n,
    tail: B_OFFSET,
    descriptors: [
      { kind: "data", fileOffset: 3 * MiB, data },
      { kind: "zero", fileOffset: 5 * MiB, zeroLength: 64 * KiB },
    ],
    ...extra,
  });
}

/** Changes `bytes` in place, then stores a right checksum so only the rule under test breaks. */
function damaged(bytes: Uint8Array, change: (b: Uint8Array) => void, keepChecksum = false): Uint8Array {
  change(bytes);
  return keepChecksum ? bytes : rechecksum(bytes);
}

function ringWith(...entries: Array<[number, Uint8Array]>): Uint8Array {
  const ring = new Uint8Array(RING);
  for (const [offset, bytes] of entries) put(ring, offset, bytes);
  return ring;
}

describe("readLogEntry on a good entry", () => {
  it("decodes the header, the descriptors in order, and joins each data update", () => {
    const ring = ringWith([B_OFFSET, entryB()]);
    const check = readLogEntry(ring, B_OFFSET, GUID.toUpperCase());
    expect(check.ok).toBe(true);
    if (!check.ok) return;
    const { entry } = check;
    expect(entry.offset).toBe(B_OFFSET);
    expect(entry.header).toMatchObject({
      signature: "loge",
      entryLength: 2 * SECTOR,
      tail: B_OFFSET,
      sequenceNumber: 2n,
      descriptorCount: 2,
      logGuid: GUID,
    });
    expect(entry.descriptors).toHaveLength(2);
    const [data, zero] = entry.descriptors;
    expect(data).toMatchObject({ kind: "data", fileOffset: 3 * MiB, sequenceNumber: 2n });
    const expected = pattern(7);
    expected.set([1, 2, 3, 4, 5, 6, 7, 8], 0);
    expected.set([0xfc, 0xfd, 0xfe, 0xff], 4092);
    expect(data!.kind === "data" && data!.data).toEqual(expected);
    expect(zero).toEqual({ kind: "zero", fileOffset: 5 * MiB, zeroLength: 64 * KiB, sequenceNumber: 2n });
  });

  it("reads an entry whose sectors wrap from the end of the ring to its start", () => {
    // 130 descriptors: two descriptor sectors, the second one at ring offset 0, then the data sectors.
    const descriptors = Array.from({ length: 130 }, (_, i) =>
      i % 2 === 0
        ? { kind: "data" as const, fileOffset: i * SECTOR, data: pattern(i) }
        : { kind: "zero" as const, fileOffset: i * MiB, zeroLength: SECTOR },
    );
    const ring = new Uint8Array(MiB);
    const start = ring.length - SECTOR;
    const bytes = encodeEntry({ sequenceNumber: 9n, tail: start, descriptors });
    expect(bytes.length).toBe((2 + 65) * SECTOR);
    put(ring, start, bytes);
    const check = readLogEntry(ring, start, GUID);
    expect(check.ok).toBe(true);
    if (!check.ok) return;
    expect(check.entry.descriptors.map((d) => d.fileOffset)).toEqual(descriptors.map((d) => d.fileOffset));
    check.entry.descriptors.forEach((d, i) => {
      if (d.kind === "data") expect(Buffer.from(d.data).equals(pattern(i))).toBe(true);
      else expect(d.zeroLength).toBe(SECTOR);
    });
  });

  it("has the checksum @vhdx/structs computes over the contiguous entry", () => {
    const bytes = entryB();
    expect(decodeLogEntryHeader(bytes).checksum).toBe(computeLogEntryChecksum(bytes));
  });

  it("accepts an entry with no descriptors", () => {
    const ring = ringWith([0, encodeEntry({ sequenceNumber: 1n, tail: 0 })]);
    const check = readLogEntry(ring, 0, GUID);
    expect(check.ok && check.entry.descriptors).toEqual([]);
  });
});

// Every rule: the damaged entry B is reported with its rule, the search falls
// back to the good entry A before it, and B alone is a corrupt log.
const DAMAGE: Array<[rule: string, what: string, make: () => Uint8Array]> = [
  ["ENTRY_SIGNATURE", "header signature", () => damaged(entryB(), (b) => (b[3] = 0x78))],
  ["CHECKSUM", "a changed payload byte", () => damaged(entryB(), (b) => (b[SECTOR + 100]! ^= 1), true)],
  ["CHECKSUM", "a changed checksum", () => damaged(entryB(), (b) => (b[4]! ^= 0x80), true)],
  ["ENTRY_LENGTH", "EntryLength not a multiple of 4 KiB", () => entryB({ entryLength: 2 * SECTOR + 512 })],
  ["ENTRY_LENGTH", "EntryLength 0", () => entryB({ entryLength: 0 })],
  ["ENTRY_LENGTH", "EntryLength longer than the log", () => entryB({ entryLength: RING + SECTOR })],
  ["TAIL", "Tail not 4 KiB-aligned", () => entryB({ tail: B_OFFSET + 512 })],
  ["TAIL", "Tail outside the log", () => entryB({ tail: RING })],
  ["SEQUENCE_NUMBER", "SequenceNumber 0", () => entryB({ sequenceNumber: 0n })],
  ["DESCRIPTOR_COUNT", "more descriptors than the entry has room for", () => entryB({ descriptorCount: 1000 })],
  ["DESCRIPTOR_COUNT", "fewer descriptors than the entry's sectors", () => entryB({ descriptorCount: 0 })],
  ["RESERVED", "header reserved field", () => entryB({ reserved: 1 })],
  ["LOG_GUID", "another LogGuid", () => entryB({ logGuid: OTHER_GUID })],
  [
    "FILE_OFFSET_ALIGNMENT",
    "FlushedFileOffset not 1 MiB-aligned",
    () => entryB({ flushedFileOffset: 4 * MiB + SECTOR }),
  ],
  ["FILE_OFFSET_ALIGNMENT", "LastFileOffset not 1 MiB-aligned", () => entryB({ lastFileOffset: 4 * MiB + SECTOR })],
  ["FIELD_RANGE", "FlushedFileOffset past 2^53", () => damaged(entryB(), (b) => writeU64(b, 48, 1n << 60n))],
  [
    "FIELD_RANGE",
    "a data FileOffset past 2^53",
    () => damaged(entryB(), (b) => writeU64(b, descriptorAt(0) + 16, 1n << 60n)),
  ],
  [
    "FIELD_RANGE",
    "a zero range ending past 2^53",
    () =>
      damaged(entryB(), (b) => {
        writeU64(b, descriptorAt(1) + 8, 1n << 52n);
        writeU64(b, descriptorAt(1) + 16, 1n << 52n);
      }),
  ],
  ["DESCRIPTOR_SIGNATURE", "a descriptor signature", () => damaged(entryB(), (b) => (b[descriptorAt(1)] = 0x5a))],
  [
    "DESCRIPTOR_RESERVED",
    "a zero descriptor's reserved field",
    () => damaged(entryB(), (b) => writeU32(b, descriptorAt(1) + 4, 1)),
  ],
  [
    "DESCRIPTOR_ALIGNMENT",
    "a data FileOffset not 4 KiB-aligned",
    () => damaged(entryB(), (b) => writeU64(b, descriptorAt(0) + 16, BigInt(3 * MiB + 512))),
  ],
  [
    "DESCRIPTOR_ALIGNMENT",
    "a ZeroLength not a multiple of 4 KiB",
    () => damaged(entryB(), (b) => writeU64(b, descriptorAt(1) + 8, 1000n)),
  ],
  [
    "DESCRIPTOR_ALIGNMENT",
    "a zero FileOffset not 4 KiB-aligned",
    () => damaged(entryB(), (b) => writeU64(b, descriptorAt(1) + 16, BigInt(5 * MiB + 8))),
  ],
  [
    "DESCRIPTOR_SEQUENCE",
    "a data descriptor's sequence number",
    () => damaged(entryB(), (b) => writeU64(b, descriptorAt(0) + 24, 3n)),
  ],
  [
    "DESCRIPTOR_SEQUENCE",
    "a zero descriptor's sequence number",
    () => damaged(entryB(), (b) => writeU64(b, descriptorAt(1) + 24, 1n)),
  ],
  [
    "DATA_SECTOR_COUNT",
    "EntryLength one sector longer than the data descriptors",
    () => entryB({ entryLength: 3 * SECTOR }),
  ],
  ["DATA_SECTOR_SIGNATURE", "a data sector signature", () => damaged(entryB(), (b) => (b[SECTOR + 3] = 0x34))],
  ["DATA_SECTOR_SEQUENCE", "a data sector's SequenceHigh", () => damaged(entryB(), (b) => writeU32(b, SECTOR + 4, 1))],
  [
    "DATA_SECTOR_SEQUENCE",
    "a data sector's SequenceLow (a torn sector)",
    () => damaged(entryB(), (b) => writeU32(b, SECTOR + 4092, 1)),
  ],
];

describe("every rule, broken", () => {
  it.each(DAMAGE)("%s: %s", (rule, _what, make) => {
    const a = smallEntry(1n, 0);
    const b = make();
    const ring = ringWith([0, a], [B_OFFSET, b]);
    const check = readLogEntry(ring, B_OFFSET, GUID);
    expect(check.ok).toBe(false);
    if (check.ok) return;
    expect(check.rule).toBe(rule);
    expect(check.reason.length).toBeGreaterThan(10);

    // Ignored by the search: A, the entry before it, is the active sequence.
    const sequence = findActiveSequence(ring, GUID);
    expect(sequence?.head.header.sequenceNumber).toBe(1n);
    expect(sequence?.entries.map((e) => e.offset)).toEqual([0]);

    // Alone, it leaves no valid sequence: the log is corrupt.
    const alone = ringWith([B_OFFSET, make()]);
    expect(findActiveSequence(alone, GUID)).toBeNull();
    expectVhdxError(() => planReplay(alone, GUID, 8 * MiB), "LOG_CORRUPT");
  });

  it("the same entry undamaged is the active sequence (the control)", () => {
    const ring = ringWith([0, smallEntry(1n, 0)], [B_OFFSET, entryB()]);
    expect(readLogEntry(ring, B_OFFSET, GUID).ok).toBe(true);
    expect(findActiveSequence(ring, GUID)?.entries.map((e) => e.offset)).toEqual([B_OFFSET]);
  });

  it("a checksum broken in the part of an entry that wrapped to the ring's start", () => {
    const ring = new Uint8Array(RING);
    const start = RING - SECTOR;
    put(ring, start, entryB({ tail: start }));
    expect(readLogEntry(ring, start, GUID).ok).toBe(true);
    ring[200]! ^= 1; // the data sector, now at ring offset 0
    expect(readLogEntry(ring, start, GUID)).toMatchObject({ ok: false, rule: "CHECKSUM" });
  });

  it("a nil LogGuid makes every entry invalid: the log is empty", () => {
    const ring = ringWith([0, encodeEntry({ sequenceNumber: 1n, tail: 0, logGuid: NIL })]);
    expect(readLogEntry(ring, 0, NIL)).toMatchObject({ ok: false, rule: "LOG_GUID" });
    expect(findActiveSequence(ring, NIL)).toBeNull();
  });

  it("an all-zero sector is not an entry", () => {
    expect(readLogEntry(new Uint8Array(RING), 0, GUID)).toMatchObject({ ok: false, rule: "ENTRY_SIGNATURE" });
  });
});

describe("readLogEntry arguments", () => {
  const ring = new Uint8Array(RING);
  it("refuses an offset that is not a 4 KiB-aligned ring offset", () => {
    expectVhdxError(() => readLogEntry(ring, 512, GUID), "OUT_OF_RANGE", "offset");
    expectVhdxError(() => readLogEntry(ring, RING, GUID), "OUT_OF_RANGE", "offset");
    expectVhdxError(() => readLogEntry(ring, -SECTOR, GUID), "OUT_OF_RANGE", "offset");
  });
  it("refuses a ring that is not a whole number of 4 KiB sectors", () => {
    expectVhdxError(() => readLogEntry(new Uint8Array(1000), 0, GUID), "BAD_FIELD", "logLength");
    expectVhdxError(() => readLogEntry(new Uint8Array(0), 0, GUID), "BAD_FIELD", "logLength");
  });
  it("throws TypeError on wrong types", () => {
    expect(() => readLogEntry([] as unknown as Uint8Array, 0, GUID)).toThrow(TypeError);
    expect(() => readLogEntry(ring, 0.5, GUID)).toThrow(TypeError);
    expect(() => readLogEntry(ring, 0, "not a guid")).toThrow(TypeError);
  });
});

describe("hostile bytes", () => {
  it("never throws, whatever the bytes, and the search ends", () => {
    const ring = new Uint8Array(RING);
    let seed = 12345;
    for (let round = 0; round < 40; round++) {
      for (let i = 0; i < ring.length; i++) {
        seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
        ring[i] = seed >>> 24;
      }
      // Make every sector a header that looks plausible, with random counts and lengths.
      for (let s = 0; s < RING; s += SECTOR) {
        ring.set([0x6c, 0x6f, 0x67, 0x65], s);
        if (round % 2 === 0) {
          ring.set(new Uint8Array(Uint32Array.of(round % 4 === 0 ? RING : 0xffff_f000).buffer), s + 8);
          ring.set(new Uint8Array(16), s + 32);
          ring.set([0x65, 0x67, 0x6f, 0x6c, 0, 0, 0, 0x40, 0x80, 0, 0, 0, 0, 0, 0, 1], s + 32); // GUID bytes
        }
      }
      for (let s = 0; s < RING; s += SECTOR) expect(() => readLogEntry(ring, s, GUID)).not.toThrow();
      expect(findActiveSequence(ring, GUID)).toBeNull();
    }
  });

  it("random byte flips in a good log end in a valid sequence or none, never a throw", () => {
    const next = (seed: number) => (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    let seed = 99;
    for (let round = 0; round < 200; round++) {
      const ring = ringWith([0, smallEntry(1n, 0)], [B_OFFSET, entryB()]);
      for (let flips = 0; flips < 1 + (round % 5); flips++) {
        seed = next(seed);
        const at = seed % (B_OFFSET + 2 * SECTOR);
        seed = next(seed);
        ring[at] = seed & 0xff;
      }
      const sequence = findActiveSequence(ring, GUID);
      if (sequence !== null) expect([0, B_OFFSET]).toContain(sequence.head.offset);
    }
  });
});
