import { describe, expect, it } from "vitest";
import { crc32c } from "@vhdx/crc32c";
import {
  type LogEntryHeader,
  computeLogEntryChecksum,
  dataSectorSequenceNumber,
  decodeDataDescriptor,
  decodeDataSector,
  decodeLogEntryHeader,
  decodeZeroDescriptor,
  descriptorSectorCount,
  encodeDataDescriptor,
  encodeDataSector,
  encodeLogEntryHeader,
  encodeZeroDescriptor,
  joinLogUpdate,
  splitLogUpdate,
  validateDataDescriptor,
  validateDataSector,
  validateLogEntryHeader,
  validateZeroDescriptor,
  verifyLogEntryChecksum,
  writeLogEntryChecksum,
} from "../src/index.js";
import { expectSameBytes, expectVhdxError, makeSafeU64, random, rules, setU32, setU64 } from "./helpers.js";

const MiB = 1048576;
const LOG_GUID = "1f3e5d7c-9b8a-4c2d-8e1f-0a2b4c6d8e0f";

/** A log entry header written field by field with a DataView, independent of the encoder. */
function handMadeHeader(): Uint8Array {
  const bytes = new Uint8Array(64);
  const v = new DataView(bytes.buffer);
  bytes.set([0x6c, 0x6f, 0x67, 0x65], 0); // "loge"
  v.setUint32(4, 0xdeadbeef, true);
  v.setUint32(8, 8192, true);
  v.setUint32(12, 4096, true);
  v.setBigUint64(16, 0x1122334455667788n, true);
  v.setUint32(24, 1, true);
  bytes.set([0x7c, 0x5d, 0x3e, 0x1f, 0x8a, 0x9b, 0x2d, 0x4c, 0x8e, 0x1f, 0x0a, 0x2b, 0x4c, 0x6d, 0x8e, 0x0f], 32);
  v.setBigUint64(48, BigInt(5 * MiB), true);
  v.setBigUint64(56, BigInt(6 * MiB), true);
  return bytes;
}

const HEADER: LogEntryHeader = {
  signature: "loge",
  checksum: 0xdeadbeef,
  entryLength: 8192,
  tail: 4096,
  sequenceNumber: 0x1122334455667788n,
  descriptorCount: 1,
  reserved: 0,
  logGuid: LOG_GUID,
  flushedFileOffset: 5 * MiB,
  lastFileOffset: 6 * MiB,
};

/** A whole entry: header and one data descriptor in sector 0, the data sector in sector 1. */
function entryWithOneUpdate(update: Uint8Array): Uint8Array {
  const entry = new Uint8Array(8192);
  entry.set(encodeLogEntryHeader({ ...HEADER, checksum: 0 }));
  const { descriptor, sector } = splitLogUpdate(update, 3 * MiB, HEADER.sequenceNumber);
  entry.set(encodeDataDescriptor(descriptor), 64);
  entry.set(encodeDataSector(sector), 4096);
  writeLogEntryChecksum(entry);
  return entry;
}

describe("log entry header", () => {
  it("decodes hand-made bytes and re-encodes them byte for byte", () => {
    const bytes = handMadeHeader();
    expect(decodeLogEntryHeader(bytes)).toEqual(HEADER);
    expect(encodeLogEntryHeader(HEADER)).toEqual(bytes);
  });

  it("round trips random values and random bytes", () => {
    const r = random(81);
    for (let i = 0; i < 50; i++) {
      const value: LogEntryHeader = {
        signature: "loge",
        checksum: r.u32(),
        entryLength: r.u32(),
        tail: r.u32(),
        sequenceNumber: r.bigU64(),
        descriptorCount: r.u32(),
        reserved: r.u32(),
        logGuid: r.guid(),
        flushedFileOffset: r.safeU64(),
        lastFileOffset: r.safeU64(),
      };
      expect(decodeLogEntryHeader(encodeLogEntryHeader(value))).toEqual(value);
      const bytes = r.bytes(64);
      makeSafeU64(bytes, 48);
      makeSafeU64(bytes, 56);
      expect(encodeLogEntryHeader(decodeLogEntryHeader(bytes))).toEqual(bytes);
    }
  });

  it("descriptorSectorCount: 126 descriptors in the first sector, 128 in each further one", () => {
    expect(descriptorSectorCount(0)).toBe(1);
    expect(descriptorSectorCount(126)).toBe(1);
    expect(descriptorSectorCount(127)).toBe(2);
    expect(descriptorSectorCount(254)).toBe(2);
    expect(descriptorSectorCount(255)).toBe(3);
  });

  it("the entry checksum covers EntryLength bytes with the field zeroed", () => {
    const update = random(82).bytes(4096);
    const entry = entryWithOneUpdate(update);
    const copy = entry.slice();
    copy.fill(0, 4, 8);
    const expected = crc32c(copy);
    expect(new DataView(entry.buffer).getUint32(4, true)).toBe(expected);
    expect(computeLogEntryChecksum(entry)).toBe(expected);
    expect(verifyLogEntryChecksum(entry)).toBe(true);
    // Bytes past EntryLength are not part of the entry.
    const longer = new Uint8Array(12288);
    longer.set(entry);
    longer[10000] = 1;
    expect(verifyLogEntryChecksum(longer)).toBe(true);
    entry[5000] = entry[5000]! ^ 0x80;
    expect(verifyLogEntryChecksum(entry)).toBe(false);
  });

  it("checksums an entry at an offset inside the log", () => {
    const log = new Uint8Array(MiB);
    log.set(entryWithOneUpdate(new Uint8Array(4096).fill(7)), 8192);
    expect(verifyLogEntryChecksum(log, 8192)).toBe(true);
  });

  it("the entry checksum: TRUNCATED when EntryLength runs past the bytes, BAD_FIELD or false when under 64", () => {
    const entry = entryWithOneUpdate(new Uint8Array(4096));
    expectVhdxError(() => computeLogEntryChecksum(entry.subarray(0, 8191)), "TRUNCATED");
    expectVhdxError(() => verifyLogEntryChecksum(entry.subarray(0, 8191)), "TRUNCATED");
    expectVhdxError(() => computeLogEntryChecksum(entry.subarray(0, 63)), "TRUNCATED");
    setU32(entry, 8, 0);
    expectVhdxError(() => computeLogEntryChecksum(entry), "BAD_FIELD");
    expect(verifyLogEntryChecksum(entry)).toBe(false);
    setU32(entry, 8, 0xfffff000);
    expectVhdxError(() => verifyLogEntryChecksum(entry), "TRUNCATED");
  });

  describe("validator", () => {
    const check = (change: Partial<LogEntryHeader>, context = {}) =>
      rules(validateLogEntryHeader({ ...HEADER, ...change }, context));

    it("a good header breaks no rule, with and without context", () => {
      expect(check({})).toEqual([]);
      expect(check({}, { logLength: MiB, logGuid: LOG_GUID.toUpperCase() })).toEqual([]);
    });

    it("SIGNATURE", () => {
      const violations = validateLogEntryHeader({ ...HEADER, signature: "logx" });
      expect(rules(violations)).toEqual(["SIGNATURE"]);
      expect(violations[0]!.message).toBe('signature is 0x6c6f6778, expected "loge"');
    });

    it("ENTRY_LENGTH: zero, not a multiple of 4 KiB, longer than the log", () => {
      expect(check({ entryLength: 0 })).toEqual(["ENTRY_LENGTH", "DESCRIPTOR_COUNT"]);
      expect(check({ entryLength: 8192 + 512 })).toEqual(["ENTRY_LENGTH"]);
      expect(check({}, { logLength: 4096 })).toEqual(["ENTRY_LENGTH", "TAIL"]);
    });

    it("ALIGNMENT of the tail and TAIL outside the log", () => {
      expect(check({ tail: 100 })).toEqual(["ALIGNMENT"]);
      expect(check({ tail: MiB }, { logLength: MiB })).toEqual(["TAIL"]);
    });

    it("SEQUENCE_NUMBER: zero", () => {
      expect(check({ sequenceNumber: 0n })).toEqual(["SEQUENCE_NUMBER"]);
    });

    it("DESCRIPTOR_COUNT: too many descriptors for the entry, or too many sectors for the descriptors", () => {
      expect(check({ descriptorCount: 127, entryLength: 4096 })).toEqual(["DESCRIPTOR_COUNT"]);
      expect(check({ descriptorCount: 127, entryLength: 8192 })).toEqual([]);
      expect(check({ descriptorCount: 0, entryLength: 8192 })).toEqual(["DESCRIPTOR_COUNT"]);
      expect(check({ descriptorCount: 0, entryLength: 4096 })).toEqual([]);
      expect(check({ descriptorCount: 0xffffffff, entryLength: 4096 })).toEqual(["DESCRIPTOR_COUNT"]);
    });

    it("RESERVED", () => {
      expect(check({ reserved: 1 })).toEqual(["RESERVED"]);
    });

    it("LOG_GUID: not the header's", () => {
      expect(check({}, { logGuid: "00000000-0000-0000-0000-000000000001" })).toEqual(["LOG_GUID"]);
    });

    it("ALIGNMENT of the flushed and last file offsets", () => {
      expect(check({ flushedFileOffset: 5 * MiB + 4096 })).toEqual(["ALIGNMENT"]);
      expect(check({ lastFileOffset: 1 })).toEqual(["ALIGNMENT"]);
    });
  });
});

describe("zero descriptor", () => {
  const ZERO = { signature: "zero", reserved: 0, zeroLength: 2 * MiB, fileOffset: 7 * MiB, sequenceNumber: 42n };

  it("lays out hand-checked bytes", () => {
    const bytes = encodeZeroDescriptor(ZERO);
    const v = new DataView(bytes.buffer);
    expect(new TextDecoder().decode(bytes.subarray(0, 4))).toBe("zero");
    expect(v.getBigUint64(8, true)).toBe(BigInt(2 * MiB));
    expect(v.getBigUint64(16, true)).toBe(BigInt(7 * MiB));
    expect(v.getBigUint64(24, true)).toBe(42n);
    expect(decodeZeroDescriptor(bytes)).toEqual(ZERO);
  });

  it("round trips random bytes", () => {
    const r = random(83);
    for (let i = 0; i < 30; i++) {
      const bytes = r.bytes(32);
      makeSafeU64(bytes, 8);
      makeSafeU64(bytes, 16);
      expect(encodeZeroDescriptor(decodeZeroDescriptor(bytes))).toEqual(bytes);
    }
  });

  it("validator: SIGNATURE, RESERVED, ALIGNMENT, SEQUENCE_MISMATCH", () => {
    expect(validateZeroDescriptor(ZERO, { sequenceNumber: 42n })).toEqual([]);
    expect(rules(validateZeroDescriptor({ ...ZERO, signature: "desc" }))).toEqual(["SIGNATURE"]);
    expect(rules(validateZeroDescriptor({ ...ZERO, reserved: 9 }))).toEqual(["RESERVED"]);
    expect(rules(validateZeroDescriptor({ ...ZERO, zeroLength: 512 }))).toEqual(["ALIGNMENT"]);
    expect(rules(validateZeroDescriptor({ ...ZERO, fileOffset: 4095 }))).toEqual(["ALIGNMENT"]);
    expect(rules(validateZeroDescriptor(ZERO, { sequenceNumber: 43n }))).toEqual(["SEQUENCE_MISMATCH"]);
  });

  it("OUT_OF_RANGE for a zero length past 2^53 - 1", () => {
    const bytes = encodeZeroDescriptor(ZERO);
    setU64(bytes, 8, 2n ** 64n - 1n);
    expect(expectVhdxError(() => decodeZeroDescriptor(bytes), "OUT_OF_RANGE").field).toBe("zeroLength");
  });
});

describe("data descriptor and data sector", () => {
  const DESC = {
    signature: "desc",
    trailingBytes: Uint8Array.from([1, 2, 3, 4]),
    leadingBytes: Uint8Array.from([5, 6, 7, 8, 9, 10, 11, 12]),
    fileOffset: 3 * MiB,
    sequenceNumber: 0x1122334455667788n,
  };

  it("data descriptor: hand-checked bytes", () => {
    const bytes = encodeDataDescriptor(DESC);
    expect(new TextDecoder().decode(bytes.subarray(0, 4))).toBe("desc");
    expect([...bytes.subarray(4, 16)]).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(new DataView(bytes.buffer).getBigUint64(16, true)).toBe(BigInt(3 * MiB));
    expect(decodeDataDescriptor(bytes)).toEqual(DESC);
  });

  it("data descriptor: random byte round trips and the validator", () => {
    const r = random(84);
    for (let i = 0; i < 30; i++) {
      const bytes = r.bytes(32);
      makeSafeU64(bytes, 16);
      expect(encodeDataDescriptor(decodeDataDescriptor(bytes))).toEqual(bytes);
    }
    expect(validateDataDescriptor(DESC, { sequenceNumber: DESC.sequenceNumber })).toEqual([]);
    expect(rules(validateDataDescriptor({ ...DESC, signature: "data" }))).toEqual(["SIGNATURE"]);
    expect(rules(validateDataDescriptor({ ...DESC, fileOffset: 3 * MiB + 1 }))).toEqual(["ALIGNMENT"]);
    expect(rules(validateDataDescriptor(DESC, { sequenceNumber: 1n }))).toEqual(["SEQUENCE_MISMATCH"]);
    expectVhdxError(() => encodeDataDescriptor({ ...DESC, leadingBytes: new Uint8Array(4) }), "BAD_FIELD");
  });

  it("data sector: sequence high first, low last, 4084 bytes between", () => {
    const data = random(85).bytes(4084);
    const bytes = encodeDataSector({ sequenceHigh: 0x11223344, data, sequenceLow: 0x55667788 });
    const v = new DataView(bytes.buffer);
    expect(new TextDecoder().decode(bytes.subarray(0, 4))).toBe("data");
    expect(v.getUint32(4, true)).toBe(0x11223344);
    expect(v.getUint32(4092, true)).toBe(0x55667788);
    expect(bytes.subarray(8, 4092)).toEqual(data);
    const sector = decodeDataSector(bytes);
    expect(sector).toEqual({ signature: "data", sequenceHigh: 0x11223344, data, sequenceLow: 0x55667788 });
    expect(dataSectorSequenceNumber(sector)).toBe(0x1122334455667788n);
    expect(validateDataSector(sector, { sequenceNumber: 0x1122334455667788n })).toEqual([]);
  });

  it("data sector: random byte round trips and the validator", () => {
    const r = random(86);
    for (let i = 0; i < 10; i++) {
      const bytes = r.bytes(4096);
      expectSameBytes(encodeDataSector(decodeDataSector(bytes)), bytes);
    }
    const sector = decodeDataSector(encodeDataSector({ sequenceHigh: 1, data: new Uint8Array(4084), sequenceLow: 2 }));
    expect(rules(validateDataSector({ ...sector, signature: "dat\0" }))).toEqual(["SIGNATURE"]);
    expect(rules(validateDataSector(sector, { sequenceNumber: (1n << 32n) | 3n }))).toEqual(["SEQUENCE_MISMATCH"]);
    expect(rules(validateDataSector(sector, { sequenceNumber: (2n << 32n) | 2n }))).toEqual(["SEQUENCE_MISMATCH"]);
    expectVhdxError(() => encodeDataSector({ ...sector, data: new Uint8Array(4096) }), "BAD_FIELD");
  });

  it("splitLogUpdate and joinLogUpdate restore the 4 KiB update", () => {
    const update = random(87).bytes(4096);
    const { descriptor, sector } = splitLogUpdate(update, 5 * MiB, 0xaabbccdd00112233n);
    expect([...descriptor.leadingBytes]).toEqual([...update.subarray(0, 8)]);
    expect([...descriptor.trailingBytes]).toEqual([...update.subarray(4092)]);
    expect(sector.sequenceHigh).toBe(0xaabbccdd);
    expect(sector.sequenceLow).toBe(0x00112233);
    expect(descriptor.fileOffset).toBe(5 * MiB);
    expectSameBytes(joinLogUpdate(descriptor, sector), update);
    const entry = entryWithOneUpdate(update);
    const joined = joinLogUpdate(decodeDataDescriptor(entry, 64), decodeDataSector(entry, 4096));
    expectSameBytes(joined, update);
  });
});

describe("log structures: hostile input", () => {
  it.each([
    ["log entry header", decodeLogEntryHeader, 64],
    ["zero descriptor", decodeZeroDescriptor, 32],
    ["data descriptor", decodeDataDescriptor, 32],
    ["data sector", decodeDataSector, 4096],
  ] as const)("%s: TRUNCATED on 0, 1 and size - 1 bytes", (name, decode, size) => {
    for (const length of [0, 1, size - 1]) {
      expect(expectVhdxError(() => decode(new Uint8Array(length)), "TRUNCATED").structure).toBe(name);
    }
  });

  it("flushed and last file offsets past 2^53 - 1 are OUT_OF_RANGE", () => {
    for (const at of [48, 56]) {
      const bytes = handMadeHeader();
      setU64(bytes, at, 2n ** 53n);
      expectVhdxError(() => decodeLogEntryHeader(bytes), "OUT_OF_RANGE");
    }
    const desc = encodeDataDescriptor({
      trailingBytes: new Uint8Array(4),
      leadingBytes: new Uint8Array(8),
      fileOffset: 0,
      sequenceNumber: 1n,
    });
    setU64(desc, 16, 2n ** 60n);
    expectVhdxError(() => decodeDataDescriptor(desc), "OUT_OF_RANGE");
  });
});
