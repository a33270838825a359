import { describe, expect, it } from "vitest";
import {
  BAT_REGION_GUID,
  METADATA_REGION_GUID,
  type RegionTable,
  type RegionTableEntry,
  assertValid,
  computeRegionTableChecksum,
  decodeRegionTable,
  decodeRegionTableEntry,
  decodeRegionTableHeader,
  encodeRegionTable,
  encodeRegionTableEntry,
  encodeRegionTableHeader,
  validateRegionTable,
  validateRegionTableEntry,
  validateRegionTableHeader,
  verifyRegionTableChecksum,
} from "../src/index.js";
import {
  expectSameBytes,
  expectVhdxError,
  makeSafeU64,
  padded,
  random,
  rules,
  setU32,
  setU64,
  vector,
} from "./helpers.js";

const MiB = 1048576;
const BAT_ENTRY = { guid: BAT_REGION_GUID, fileOffset: 3145728, length: MiB, required: true, reserved: 0 };
const METADATA_ENTRY = { guid: METADATA_REGION_GUID, fileOffset: 2097152, length: MiB, required: true, reserved: 0 };

const realTable = () => padded(vector("region_table.1"), 65536);

describe("region table: the real Windows bytes", () => {
  it("decodes the 16-byte header", () => {
    const bytes = vector("region_table_header.1");
    const header = decodeRegionTableHeader(bytes);
    expect(header).toEqual({ signature: "regi", checksum: 0xc66b8cae, entryCount: 2, reserved: 0 });
    expect(encodeRegionTableHeader(header)).toEqual(bytes);
    expect(validateRegionTableHeader(header)).toEqual([]);
  });

  it("decodes the 32-byte BAT entry", () => {
    const bytes = vector("region_table_entry.1");
    const entry = decodeRegionTableEntry(bytes);
    expect(entry).toEqual(BAT_ENTRY);
    expect(encodeRegionTableEntry(entry)).toEqual(bytes);
    expect(validateRegionTableEntry(entry)).toEqual([]);
  });

  it("decodes the table (zero-padded to 64 KiB)", () => {
    const table = decodeRegionTable(realTable(), 0, 0x30000);
    expect(table).toEqual({
      signature: "regi",
      checksum: 0xc66b8cae,
      entryCount: 2,
      reserved: 0,
      entries: [BAT_ENTRY, METADATA_ENTRY],
    });
    expect(table.tail).toBeUndefined();
  });

  it("has a valid checksum and breaks no rule", () => {
    expect(verifyRegionTableChecksum(realTable())).toBe(true);
    expect(computeRegionTableChecksum(realTable())).toBe(0xc66b8cae);
    expect(validateRegionTable(decodeRegionTable(realTable()))).toEqual([]);
  });

  it("re-encodes byte for byte, and its first 80 bytes are the vector", () => {
    const encoded = encodeRegionTable(decodeRegionTable(realTable()));
    expectSameBytes(encoded, realTable());
    expect(encoded.subarray(0, 80)).toEqual(vector("region_table.1"));
  });

  it("the table file and the header and entry files agree", () => {
    const table = vector("region_table.1");
    expect(table.subarray(0, 16)).toEqual(vector("region_table_header.1"));
    expect(table.subarray(16, 48)).toEqual(vector("region_table_entry.1"));
  });
});

function randomEntry(r: ReturnType<typeof random>): RegionTableEntry {
  return { guid: r.guid(), fileOffset: r.safeU64(), length: r.u32(), required: r.bool(), reserved: r.u32() >>> 1 };
}

describe("region table: round trips", () => {
  it("entries: decode(encode(v)) equals v", () => {
    const r = random(41);
    for (let i = 0; i < 50; i++) {
      const entry = randomEntry(r);
      expect(decodeRegionTableEntry(encodeRegionTableEntry(entry))).toEqual(entry);
    }
  });

  it("header: decode(encode(v)) equals v", () => {
    const r = random(42);
    for (let i = 0; i < 50; i++) {
      const header = { signature: "regi", checksum: r.u32(), entryCount: r.u32(), reserved: r.u32() };
      expect(decodeRegionTableHeader(encodeRegionTableHeader(header))).toEqual(header);
    }
  });

  it("tables: decode(encode(v)) equals v, with the checksum computed", () => {
    const r = random(43);
    for (let i = 0; i < 20; i++) {
      const entries = Array.from({ length: r.int(40) }, () => randomEntry(r));
      const bytes = encodeRegionTable({ entries });
      expect(verifyRegionTableChecksum(bytes)).toBe(true);
      const table = decodeRegionTable(bytes);
      expect(table.entries).toEqual(entries);
      expect(table.entryCount).toBe(entries.length);
      expectSameBytes(encodeRegionTable(table), bytes);
    }
  });

  it("random bytes: encode(decode(b)) equals b, non-zero tail included", () => {
    const r = random(44);
    for (let i = 0; i < 10; i++) {
      const bytes = r.bytes(65536);
      const count = r.int(2048);
      setU32(bytes, 8, count);
      for (let e = 0; e < count; e++) makeSafeU64(bytes, 16 + 32 * e + 16);
      setU32(bytes, 4, computeRegionTableChecksum(bytes));
      const table = decodeRegionTable(bytes);
      expect(table.tail?.length).toBe(65536 - 16 - 32 * count);
      expectSameBytes(encodeRegionTable(table), bytes);
    }
  });

  it("holds the full 2047 entries", () => {
    const entries = Array.from({ length: 2047 }, (_, i) => ({ ...BAT_ENTRY, fileOffset: (i + 1) * MiB }));
    expect(decodeRegionTable(encodeRegionTable({ entries })).entries.length).toBe(2047);
  });
});

describe("region table: validator", () => {
  const table = (entries: RegionTableEntry[], extra: Partial<RegionTable> = {}): RegionTable => {
    const value = decodeRegionTable(encodeRegionTable({ entries }));
    return { ...value, ...extra };
  };
  const ruleNames = (t: RegionTable, context = {}) => rules(validateRegionTable(t, context));

  it("SIGNATURE, with the message from the issue", () => {
    const bytes = realTable();
    bytes.fill(0, 0, 4);
    const violations = validateRegionTable(decodeRegionTable(bytes));
    expect(rules(violations)).toEqual(["SIGNATURE", "CHECKSUM"]);
    const error = expectVhdxError(
      () => assertValid(violations, { structure: "region table", offset: 0x30000 }),
      "BAD_SIGNATURE",
    );
    expect(error.message).toBe('region table @0x30000: signature is 0x00000000, expected "regi"');
  });

  it("CHECKSUM", () => {
    const bytes = realTable();
    bytes[1000] = 7;
    const violations = validateRegionTable(decodeRegionTable(bytes));
    expect(rules(violations)).toEqual(["CHECKSUM"]);
    expect(violations[0]!.code).toBe("CHECKSUM_MISMATCH");
    expect(violations[0]!.message).toMatch(/^checksum is 0xc66b8cae, the contents give 0x[0-9a-f]{8}$/);
  });

  it("ENTRY_COUNT (header validator) and RESERVED", () => {
    const header = decodeRegionTableHeader(vector("region_table_header.1"));
    expect(rules(validateRegionTableHeader({ ...header, entryCount: 2048 }))).toEqual(["ENTRY_COUNT"]);
    expect(rules(validateRegionTableHeader({ ...header, entryCount: 2047 }))).toEqual([]);
    const bytes = realTable();
    setU32(bytes, 12, 1);
    setU32(bytes, 4, computeRegionTableChecksum(bytes));
    expect(rules(validateRegionTable(decodeRegionTable(bytes)))).toEqual(["RESERVED"]);
  });

  it("ALIGNMENT of an entry's file offset and length, with the entry named", () => {
    const violations = validateRegionTable(table([{ ...BAT_ENTRY, fileOffset: 3 * MiB + 4096 }, METADATA_ENTRY]));
    expect(rules(violations)).toEqual(["ALIGNMENT"]);
    expect(violations[0]!.field).toBe("entries[0].fileOffset");
    expect(ruleNames(table([BAT_ENTRY, { ...METADATA_ENTRY, fileOffset: 5 * MiB, length: MiB + 1 }]))).toEqual([
      "ALIGNMENT",
    ]);
  });

  it("HEADER_SECTION: a region below 1 MiB", () => {
    expect(ruleNames(table([{ ...BAT_ENTRY, fileOffset: 0 }, METADATA_ENTRY]))).toEqual(["HEADER_SECTION"]);
  });

  it("DUPLICATE_GUID", () => {
    const violations = validateRegionTable(table([BAT_ENTRY, METADATA_ENTRY, { ...BAT_ENTRY, fileOffset: 10 * MiB }]));
    expect(rules(violations)).toEqual(["DUPLICATE_GUID"]);
    expect(violations[0]!.field).toBe("entries[2].guid");
  });

  it("UNKNOWN_REQUIRED_REGION, unless the caller knows it or it is optional", () => {
    const unknown = {
      guid: "11111111-2222-3333-4444-555555555555",
      fileOffset: 8 * MiB,
      length: MiB,
      required: true,
      reserved: 0,
    };
    const violations = validateRegionTable(table([BAT_ENTRY, METADATA_ENTRY, unknown]));
    expect(rules(violations)).toEqual(["UNKNOWN_REQUIRED_REGION"]);
    expect(violations[0]!.code).toBe("UNKNOWN_REQUIRED_REGION");
    expect(ruleNames(table([BAT_ENTRY, METADATA_ENTRY, { ...unknown, required: false }]))).toEqual([]);
    expect(
      ruleNames(table([BAT_ENTRY, METADATA_ENTRY, unknown]), { knownRegions: [unknown.guid.toUpperCase()] }),
    ).toEqual([]);
  });

  it("MISSING_REGION for the BAT and the metadata region", () => {
    const violations = validateRegionTable(table([]));
    expect(rules(violations)).toEqual(["MISSING_REGION", "MISSING_REGION"]);
    expect(violations.map((v) => v.code)).toEqual(["MISSING_REGION", "MISSING_REGION"]);
  });

  it("REGION_OVERLAP between entries and with the log", () => {
    const violations = validateRegionTable(
      table([
        { ...BAT_ENTRY, length: 2 * MiB },
        { ...METADATA_ENTRY, fileOffset: 4 * MiB },
      ]),
    );
    expect(rules(violations)).toEqual(["REGION_OVERLAP"]);
    expect(violations[0]!.code).toBe("REGION_OVERLAP");
    expect(ruleNames(table([BAT_ENTRY, METADATA_ENTRY]), { log: { offset: MiB, length: MiB } })).toEqual([]);
    expect(ruleNames(table([BAT_ENTRY, METADATA_ENTRY]), { log: { offset: MiB, length: 2 * MiB } })).toEqual([
      "REGION_OVERLAP",
    ]);
    // Adjacent and zero-length regions do not overlap.
    expect(ruleNames(table([BAT_ENTRY, { ...METADATA_ENTRY, fileOffset: 4 * MiB, length: 0 }]))).toEqual([]);
  });

  it("reports a bounded number of overlaps for a hostile table", () => {
    const entries = Array.from({ length: 2047 }, (_, i) => ({
      ...BAT_ENTRY,
      guid: random(i + 1).guid(),
      required: false,
    }));
    const violations = validateRegionTable(table(entries));
    expect(violations.filter((v) => v.rule === "REGION_OVERLAP").length).toBe(2046);
  });
});

describe("region table: hostile input", () => {
  it.each([
    ["header", decodeRegionTableHeader, 16],
    ["entry", decodeRegionTableEntry, 32],
    ["table", decodeRegionTable, 65536],
  ] as const)("%s: TRUNCATED on 0, 1 and size - 1 bytes", (_name, decode, size) => {
    for (const length of [0, 1, size - 1]) expectVhdxError(() => decode(new Uint8Array(length)), "TRUNCATED");
  });

  it("the 80-byte dump alone is TRUNCATED as a table", () => {
    const error = expectVhdxError(() => decodeRegionTable(vector("region_table.1"), 0, 0x30000), "TRUNCATED");
    expect(error.message).toBe("region table @0x30000: needs 65536 bytes, only 80 available");
  });

  it("an entry count over 2047 is BAD_FIELD, not a long loop", () => {
    for (const count of [2048, 0xffffffff]) {
      const bytes = realTable();
      setU32(bytes, 8, count);
      const error = expectVhdxError(() => decodeRegionTable(bytes, 0, 0x40000), "BAD_FIELD");
      expect(error.field).toBe("entryCount");
      expect(error.offset).toBe(0x40000);
    }
  });

  it("a file offset of 2^53 is OUT_OF_RANGE, with the entry's file offset", () => {
    const bytes = realTable();
    setU64(bytes, 16 + 32 + 16, 2n ** 53n);
    const error = expectVhdxError(() => decodeRegionTable(bytes, 0, 0x30000), "OUT_OF_RANGE");
    expect(error.offset).toBe(0x30000 + 48);
    expect(error.field).toBe("fileOffset");
    expectVhdxError(() => decodeRegionTableEntry(padded(new Uint8Array(0), 32).fill(0xff)), "OUT_OF_RANGE");
  });

  it("encoder: too many entries, a wrong entryCount, bad values", () => {
    const many = Array.from({ length: 2048 }, () => BAT_ENTRY);
    expectVhdxError(() => encodeRegionTable({ entries: many }), "OUT_OF_RANGE");
    expectVhdxError(() => encodeRegionTable({ entryCount: 3, entries: [BAT_ENTRY] }), "BAD_FIELD");
    const error = expectVhdxError(
      () => encodeRegionTable({ entries: [BAT_ENTRY, { ...BAT_ENTRY, length: -1 }] }),
      "OUT_OF_RANGE",
    );
    expect(error.field).toBe("entries[1].length");
    expectVhdxError(() => encodeRegionTableEntry({ ...BAT_ENTRY, reserved: 2 ** 31 }), "OUT_OF_RANGE");
  });
});
