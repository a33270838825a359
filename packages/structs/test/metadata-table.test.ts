import { describe, expect, it } from "vitest";
import {
  FILE_PARAMETERS_GUID,
  LOGICAL_SECTOR_SIZE_GUID,
  type MetadataTable,
  type MetadataTableEntry,
  PARENT_LOCATOR_GUID,
  PHYSICAL_SECTOR_SIZE_GUID,
  VIRTUAL_DISK_ID_GUID,
  VIRTUAL_DISK_SIZE_GUID,
  decodeMetadataTable,
  decodeMetadataTableEntry,
  decodeMetadataTableHeader,
  encodeMetadataTable,
  encodeMetadataTableEntry,
  encodeMetadataTableHeader,
  findMetadataEntry,
  validateMetadataTable,
  validateMetadataTableEntry,
  validateMetadataTableHeader,
} from "../src/index.js";
import { expectSameBytes, expectVhdxError, random, rules, setU16, setU32, vector } from "./helpers.js";

const KiB = 1024;
const FILE_PARAMETERS_ENTRY: MetadataTableEntry = {
  itemId: FILE_PARAMETERS_GUID,
  offset: 65536,
  length: 8,
  isUser: false,
  isVirtualDisk: false,
  isRequired: true,
  reserved: 0,
  reserved2: 0,
};

/** The five items of a Windows dynamic disk, laid out one after another from 64 KiB. */
function windowsLikeEntries(): MetadataTableEntry[] {
  const item = (itemId: string, offset: number, length: number, isVirtualDisk: boolean) => ({
    ...FILE_PARAMETERS_ENTRY,
    itemId,
    offset,
    length,
    isVirtualDisk,
  });
  return [
    FILE_PARAMETERS_ENTRY,
    item(VIRTUAL_DISK_SIZE_GUID, 65544, 8, true),
    item(LOGICAL_SECTOR_SIZE_GUID, 65552, 4, true),
    item(PHYSICAL_SECTOR_SIZE_GUID, 65556, 4, true),
    item(VIRTUAL_DISK_ID_GUID, 65560, 16, true),
  ];
}

describe("metadata table: the real Windows bytes", () => {
  it("decodes the 32-byte header", () => {
    const bytes = vector("metadata_table_header.1");
    const header = decodeMetadataTableHeader(bytes);
    expect(header).toEqual({ signature: "metadata", reserved: 0, entryCount: 5, reserved2: new Uint8Array(20) });
    expect(encodeMetadataTableHeader(header)).toEqual(bytes);
    expect(validateMetadataTableHeader(header)).toEqual([]);
  });

  it("encodes the header from just { signature, entryCount }", () => {
    expect(encodeMetadataTableHeader({ signature: "metadata", entryCount: 5 })).toEqual(
      vector("metadata_table_header.1"),
    );
  });

  it("decodes the File Parameters entry", () => {
    const bytes = vector("metadata_table_entry.1");
    const entry = decodeMetadataTableEntry(bytes);
    expect(entry).toEqual(FILE_PARAMETERS_ENTRY);
    expect(encodeMetadataTableEntry(entry)).toEqual(bytes);
    expect(validateMetadataTableEntry(entry, { regionLength: 1048576 })).toEqual([]);
  });

  it("decodes a table built from the real header and entry", () => {
    const bytes = new Uint8Array(65536);
    bytes.set(vector("metadata_table_header.1"));
    windowsLikeEntries().forEach((e, i) => bytes.set(encodeMetadataTableEntry(e), 32 + 32 * i));
    expect(bytes.subarray(32, 64)).toEqual(vector("metadata_table_entry.1"));
    const table = decodeMetadataTable(bytes, 0, 0x200000);
    expect(table.entryCount).toBe(5);
    expect(table.entries).toEqual(windowsLikeEntries());
    expect(table.tail).toBeUndefined();
    expectSameBytes(encodeMetadataTable(table), bytes);
    expect(validateMetadataTable(table, { regionLength: 1048576 })).toEqual([]);
    expect(findMetadataEntry(table, VIRTUAL_DISK_SIZE_GUID.toUpperCase())?.offset).toBe(65544);
    expect(findMetadataEntry(table, VIRTUAL_DISK_SIZE_GUID, true)).toBeUndefined();
  });
});

function randomEntry(r: ReturnType<typeof random>): MetadataTableEntry {
  return {
    itemId: r.guid(),
    offset: r.u32(),
    length: r.u32(),
    isUser: r.bool(),
    isVirtualDisk: r.bool(),
    isRequired: r.bool(),
    reserved: r.u32() >>> 3,
    reserved2: r.u32(),
  };
}

describe("metadata table: round trips", () => {
  it("entries and headers: decode(encode(v)) equals v", () => {
    const r = random(51);
    for (let i = 0; i < 50; i++) {
      const entry = randomEntry(r);
      expect(decodeMetadataTableEntry(encodeMetadataTableEntry(entry))).toEqual(entry);
      const header = {
        signature: "metadata",
        reserved: r.int(65536),
        entryCount: r.int(65536),
        reserved2: r.bytes(20),
      };
      expect(decodeMetadataTableHeader(encodeMetadataTableHeader(header))).toEqual(header);
    }
  });

  it("random bytes: encode(decode(b)) equals b for header, entry and table", () => {
    const r = random(52);
    for (let i = 0; i < 10; i++) {
      const header = r.bytes(32);
      expect(encodeMetadataTableHeader(decodeMetadataTableHeader(header))).toEqual(header);
      const entry = r.bytes(32);
      expect(encodeMetadataTableEntry(decodeMetadataTableEntry(entry))).toEqual(entry);
      const table = r.bytes(65536);
      const count = r.int(2048);
      setU16(table, 10, count);
      const decoded = decodeMetadataTable(table);
      expect(decoded.entries.length).toBe(count);
      expectSameBytes(encodeMetadataTable(decoded), table);
    }
  });

  it("encodes random tables and reads them back", () => {
    const r = random(53);
    for (let i = 0; i < 10; i++) {
      const entries = Array.from({ length: r.int(100) }, () => randomEntry(r));
      const table = decodeMetadataTable(encodeMetadataTable({ entries }));
      expect(table.entries).toEqual(entries);
      expect(table.entryCount).toBe(entries.length);
    }
  });
});

describe("metadata table: validator", () => {
  const tableOf = (entries: MetadataTableEntry[]): MetadataTable =>
    decodeMetadataTable(encodeMetadataTable({ entries }));
  const check = (entries: MetadataTableEntry[], context = { regionLength: 1048576 }) =>
    rules(validateMetadataTable(tableOf(entries), context));
  const withEntry = (change: Partial<MetadataTableEntry>, index = 0) => {
    const entries = windowsLikeEntries();
    entries[index] = { ...entries[index]!, ...change };
    return entries;
  };

  it("SIGNATURE, ENTRY_COUNT and RESERVED of the header", () => {
    const header = decodeMetadataTableHeader(vector("metadata_table_header.1"));
    expect(rules(validateMetadataTableHeader({ ...header, signature: "metadatx" }))).toEqual(["SIGNATURE"]);
    expect(rules(validateMetadataTableHeader({ ...header, entryCount: 2048 }))).toEqual(["ENTRY_COUNT"]);
    expect(rules(validateMetadataTableHeader({ ...header, reserved: 1 }))).toEqual(["RESERVED"]);
    const reserved2 = new Uint8Array(20);
    reserved2[19] = 1;
    expect(rules(validateMetadataTableHeader({ ...header, reserved2 }))).toEqual(["RESERVED"]);
  });

  it("ITEM_OFFSET: an item inside the first 64 KiB", () => {
    const violations = validateMetadataTable(tableOf(withEntry({ offset: 32 * KiB })));
    expect(rules(violations)).toEqual(["ITEM_OFFSET"]);
    expect(violations[0]!.field).toBe("entries[0].offset");
  });

  it("EMPTY_ITEM: length 0 with a non-zero offset; length 0 at offset 0 is fine", () => {
    expect(check(withEntry({ length: 0 }))).toEqual(["EMPTY_ITEM"]);
    expect(check(withEntry({ length: 0, offset: 0 }))).toEqual([]);
  });

  it("ITEM_LENGTH: over 1 MiB", () => {
    expect(check(withEntry({ offset: 2 * 1048576, length: 1048577 }), { regionLength: 4 * 1048576 })).toEqual([
      "ITEM_LENGTH",
    ]);
  });

  it("OUTSIDE_REGION, only when the region length is known", () => {
    expect(check(withEntry({ offset: 1048576 - 4 }))).toEqual(["OUTSIDE_REGION"]);
    expect(rules(validateMetadataTable(tableOf(withEntry({ offset: 1048576 - 4 }))))).toEqual([]);
  });

  it("RESERVED flag bits and reserved2 of an entry", () => {
    expect(check(withEntry({ reserved: 1 }))).toEqual(["RESERVED"]);
    expect(check(withEntry({ reserved2: 1 }))).toEqual(["RESERVED"]);
  });

  it("DUPLICATE_ITEM: the same (itemId, isUser) twice; the same id as a user item is fine", () => {
    const extra = { ...FILE_PARAMETERS_ENTRY, offset: 70000 };
    expect(check([...windowsLikeEntries(), extra])).toEqual(["DUPLICATE_ITEM"]);
    expect(check([...windowsLikeEntries(), { ...extra, isUser: true, isRequired: false }])).toEqual([]);
  });

  it("USER_ITEM_COUNT: more than 1024 user items", () => {
    const users = (n: number) =>
      Array.from({ length: n }, (_, i) => ({
        ...FILE_PARAMETERS_ENTRY,
        itemId: random(i + 100).guid(),
        isUser: true,
        isRequired: false,
        offset: 0,
        length: 0,
      }));
    expect(check([...windowsLikeEntries(), ...users(1024)])).toEqual([]);
    expect(check([...windowsLikeEntries(), ...users(1025)])).toEqual(["USER_ITEM_COUNT"]);
  });

  it("ITEM_OVERLAP", () => {
    const violations = validateMetadataTable(tableOf(withEntry({ offset: 65546 }, 2)));
    expect(rules(violations)).toEqual(["ITEM_OVERLAP"]);
    expect(violations[0]!.field).toBe("entries[2]");
    expect(violations[0]!.message).toBe("item [65546, 65550) overlaps entries[1] [65544, 65552)");
    expect(check(withEntry({ offset: 65548 }, 4))).toEqual(["ITEM_OVERLAP", "ITEM_OVERLAP", "ITEM_OVERLAP"]);
  });

  it("UNKNOWN_REQUIRED_ITEM for unknown system items and required user items", () => {
    const unknown = { ...FILE_PARAMETERS_ENTRY, itemId: "11111111-2222-3333-4444-555555555555", offset: 70000 };
    const violations = validateMetadataTable(tableOf([...windowsLikeEntries(), unknown]));
    expect(rules(violations)).toEqual(["UNKNOWN_REQUIRED_ITEM"]);
    expect(violations[0]!.code).toBe("UNKNOWN_REQUIRED_METADATA");
    expect(check([...windowsLikeEntries(), { ...unknown, isRequired: false }])).toEqual([]);
    expect(check([...windowsLikeEntries(), { ...unknown, isUser: true }])).toEqual(["UNKNOWN_REQUIRED_ITEM"]);
    const known = validateMetadataTable(tableOf([...windowsLikeEntries(), unknown]), { knownItems: [unknown.itemId] });
    expect(known).toEqual([]);
    expect(check([...windowsLikeEntries(), { ...unknown, itemId: PARENT_LOCATOR_GUID }])).toEqual([]);
  });

  it("MISSING_ITEM for each of the five items every file has", () => {
    for (let i = 0; i < 5; i++) {
      const entries = windowsLikeEntries().filter((_, j) => j !== i);
      const violations = validateMetadataTable(tableOf(entries));
      expect(rules(violations)).toEqual(["MISSING_ITEM"]);
      expect(violations[0]!.code).toBe("MISSING_METADATA");
    }
  });
});

describe("metadata table: hostile input", () => {
  it.each([
    ["header", decodeMetadataTableHeader, 32],
    ["entry", decodeMetadataTableEntry, 32],
    ["table", decodeMetadataTable, 65536],
  ] as const)("%s: TRUNCATED on 0, 1 and size - 1 bytes", (_name, decode, size) => {
    for (const length of [0, 1, size - 1]) expectVhdxError(() => decode(new Uint8Array(length)), "TRUNCATED");
  });

  it("an entry count over 2047 is BAD_FIELD", () => {
    const bytes = new Uint8Array(65536);
    bytes.set(vector("metadata_table_header.1"));
    setU16(bytes, 10, 2048);
    expect(expectVhdxError(() => decodeMetadataTable(bytes), "BAD_FIELD").field).toBe("entryCount");
    setU16(bytes, 10, 0xffff);
    expectVhdxError(() => decodeMetadataTable(bytes), "BAD_FIELD");
    setU16(bytes, 10, 2047);
    expect(decodeMetadataTable(bytes).entries.length).toBe(2047);
  });

  it("encoder: too many entries, a wrong entryCount, bad values", () => {
    const many = Array.from({ length: 2048 }, () => FILE_PARAMETERS_ENTRY);
    expectVhdxError(() => encodeMetadataTable({ entries: many }), "OUT_OF_RANGE");
    expectVhdxError(() => encodeMetadataTable({ entryCount: 1, entries: [] }), "BAD_FIELD");
    expectVhdxError(() => encodeMetadataTableEntry({ ...FILE_PARAMETERS_ENTRY, offset: 2 ** 32 }), "OUT_OF_RANGE");
    expectVhdxError(() => encodeMetadataTableEntry({ ...FILE_PARAMETERS_ENTRY, reserved: 2 ** 29 }), "OUT_OF_RANGE");
    expectVhdxError(() => encodeMetadataTableHeader({ entryCount: 65536 }), "OUT_OF_RANGE");
    const bytes = new Uint8Array(32);
    setU32(bytes, 24, 0xffffffff);
    expect(decodeMetadataTableEntry(bytes)).toMatchObject({
      isUser: true,
      isVirtualDisk: true,
      isRequired: true,
      reserved: 0x1fffffff,
    });
  });
});
