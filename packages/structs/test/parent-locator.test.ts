import { describe, expect, it } from "vitest";
import {
  type ParentLocator,
  VHDX_PARENT_LOCATOR_TYPE_GUID,
  decodeParentLocator,
  decodeParentLocatorEntry,
  decodeParentLocatorHeader,
  encodeParentLocator,
  encodeParentLocatorEntry,
  encodeParentLocatorHeader,
  validateParentLocator,
  validateParentLocatorEntry,
  validateParentLocatorHeader,
} from "../src/index.js";
import { expectVhdxError, random, rules, setU16, setU32, vector } from "./helpers.js";

const LINKAGE = "{83ed0ec3-24c8-49a6-a959-5e4bf1288bfb}";
/** Windows writes five pairs, parent_linkage first; its table then ends at 80. */
const WINDOWS_ENTRIES = {
  parent_linkage: LINKAGE,
  parent_linkage2: "{00000000-0000-0000-0000-000000000000}",
  relative_path: "..\\..\\path2\\sub3\\parent.vhdx",
  volume_path: "\\\\?\\Volume{26a21bda-a627-11d7-9931-806e6f6e6963}\\path2\\sub3\\parent.vhdx",
  absolute_win32_path: "\\\\?\\d:\\path2\\sub3\\parent.vhdx",
};
const windowsLocator = (): ParentLocator => ({
  locatorType: VHDX_PARENT_LOCATOR_TYPE_GUID,
  entries: { ...WINDOWS_ENTRIES },
});

/** Entry i of an encoded item starts at 20 + 12 i. */
const entryAt = (i: number) => 20 + 12 * i;

describe("parent locator: the real Windows bytes", () => {
  it("decodes the 20-byte header", () => {
    const bytes = vector("parent_locator_header.1");
    const header = decodeParentLocatorHeader(bytes);
    expect(header).toEqual({ locatorType: "b04aefb7-d19e-4a81-b789-25b8e9445913", reserved: 0, keyValueCount: 5 });
    expect(encodeParentLocatorHeader(header)).toEqual(bytes);
    expect(validateParentLocatorHeader(header)).toEqual([]);
  });

  it("decodes the 12-byte entry", () => {
    const bytes = vector("parent_locator_entry.1");
    const entry = decodeParentLocatorEntry(bytes);
    expect(entry).toEqual({ keyOffset: 80, valueOffset: 108, keyLength: 28, valueLength: 76 });
    expect(encodeParentLocatorEntry(entry)).toEqual(bytes);
    expect(validateParentLocatorEntry(entry)).toEqual([]);
  });

  it("an encoded five-pair VHDX locator starts with exactly those header and entry bytes", () => {
    const item = encodeParentLocator(windowsLocator());
    expect(item.subarray(0, 20)).toEqual(vector("parent_locator_header.1"));
    expect(item.subarray(20, 32)).toEqual(vector("parent_locator_entry.1"));
    expect(new TextDecoder("utf-16le").decode(item.subarray(80, 108))).toBe("parent_linkage");
    expect(new TextDecoder("utf-16le").decode(item.subarray(108, 184))).toBe(LINKAGE);
  });
});

describe("parent locator: the whole item", () => {
  it("decodes keys and values as a plain object, pairs in stored order", () => {
    const decoded = decodeParentLocator(encodeParentLocator(windowsLocator()));
    expect(decoded.locatorType).toBe(VHDX_PARENT_LOCATOR_TYPE_GUID);
    expect(decoded.entries).toEqual(WINDOWS_ENTRIES);
    expect(decoded.reserved).toBe(0);
    expect(decoded.pairs?.map((p) => p.key)).toEqual(Object.keys(WINDOWS_ENTRIES));
    expect(decoded.pairs?.[0]?.entry).toEqual({ keyOffset: 80, valueOffset: 108, keyLength: 28, valueLength: 76 });
    expect(validateParentLocator(decoded)).toEqual([]);
    expect(validateParentLocator(windowsLocator())).toEqual([]);
  });

  it("decodes an item at an offset inside the metadata region, up to the end of the array", () => {
    const item = encodeParentLocator(windowsLocator());
    const region = new Uint8Array(100 + item.length);
    region.set(item, 100);
    expect(decodeParentLocator(region, 100, 0x300064).entries).toEqual(WINDOWS_ENTRIES);
  });

  it("round trips random keys and values, including non-ASCII and lone surrogates", () => {
    const r = random(71);
    const text = () => String.fromCharCode(...Array.from({ length: 1 + r.int(40) }, () => 1 + r.int(0xfffe)));
    for (let i = 0; i < 30; i++) {
      const entries: Record<string, string> = {};
      for (let k = r.int(12); k > 0; k--) entries[`k${k}${text()}`] = text();
      const locatorType = r.guid();
      const decoded = decodeParentLocator(encodeParentLocator({ locatorType, entries }));
      expect(decoded.locatorType).toBe(locatorType);
      expect(decoded.entries).toEqual(entries);
    }
  });

  it("keeps a key named __proto__ as data", () => {
    const decoded = decodeParentLocator(
      encodeParentLocator({ locatorType: VHDX_PARENT_LOCATOR_TYPE_GUID, entries: JSON.parse('{"__proto__":"x"}') }),
    );
    expect(Object.keys(decoded.entries)).toEqual(["__proto__"]);
    expect(Object.getPrototypeOf(decoded.entries)).toBe(Object.prototype);
  });
});

describe("parent locator: validator", () => {
  const item = () => encodeParentLocator(windowsLocator());
  const check = (bytes: Uint8Array) => rules(validateParentLocator(decodeParentLocator(bytes)));
  const without = (key: keyof typeof WINDOWS_ENTRIES, ...more: (keyof typeof WINDOWS_ENTRIES)[]) => {
    const entries: Record<string, string> = { ...WINDOWS_ENTRIES };
    for (const k of [key, ...more]) delete entries[k];
    return { locatorType: VHDX_PARENT_LOCATOR_TYPE_GUID, entries };
  };

  it("RESERVED in the header", () => {
    const bytes = item();
    setU16(bytes, 16, 1);
    expect(check(bytes)).toEqual(["RESERVED"]);
  });

  it("OFFSET and LENGTH: zero offsets and lengths; ODD_LENGTH", () => {
    const zeroOffset = item();
    setU32(zeroOffset, entryAt(4), 0);
    expect(check(zeroOffset)).toContain("OFFSET");
    const zeroLength = item();
    setU16(zeroLength, entryAt(1) + 10, 0);
    expect(check(zeroLength)).toEqual(["LENGTH", "PARENT_LINKAGE_FORMAT"]);
    const odd = item();
    setU16(odd, entryAt(2) + 10, 9);
    expect(check(odd)).toEqual(["ODD_LENGTH"]);
    expect(rules(validateParentLocator({ ...windowsLocator(), entries: { ...WINDOWS_ENTRIES, extra: "" } }))).toEqual([
      "LENGTH",
    ]);
  });

  it("DUPLICATE_KEY: two entries with the same key; the first value wins", () => {
    const bytes = item();
    bytes.copyWithin(entryAt(3), entryAt(2), entryAt(2) + 12); // the volume_path entry now points at relative_path's key and value
    const decoded = decodeParentLocator(bytes);
    expect(decoded.entries.relative_path).toBe(WINDOWS_ENTRIES.relative_path);
    const violations = validateParentLocator(decoded);
    expect(rules(violations)).toEqual(["DUPLICATE_KEY"]);
    expect(violations[0]!.field).toBe("entries[3].key");
  });

  it("NUL_CHARACTER in a key or a value", () => {
    expect(
      rules(validateParentLocator({ ...windowsLocator(), entries: { ...WINDOWS_ENTRIES, relative_path: "a\0b" } })),
    ).toEqual(["NUL_CHARACTER"]);
    expect(rules(validateParentLocator({ ...windowsLocator(), entries: { ...WINDOWS_ENTRIES, "x\0": "y" } }))).toEqual([
      "NUL_CHARACTER",
    ]);
  });

  it("UNKNOWN_LOCATOR_TYPE, and no VHDX key rules for other types", () => {
    const violations = validateParentLocator({ locatorType: "11111111-2222-3333-4444-555555555555", entries: {} });
    expect(rules(violations)).toEqual(["UNKNOWN_LOCATOR_TYPE"]);
    expect(violations[0]!.code).toBe("UNSUPPORTED");
  });

  it("MISSING_PARENT_LINKAGE", () => {
    expect(rules(validateParentLocator(without("parent_linkage")))).toEqual(["MISSING_PARENT_LINKAGE"]);
  });

  it("PARENT_LINKAGE_FORMAT for parent_linkage and parent_linkage2; either case is accepted", () => {
    const bad = (value: string, key = "parent_linkage") =>
      rules(validateParentLocator({ ...windowsLocator(), entries: { ...WINDOWS_ENTRIES, [key]: value } }));
    expect(bad("83ed0ec3-24c8-49a6-a959-5e4bf1288bfb")).toEqual(["PARENT_LINKAGE_FORMAT"]);
    expect(bad("{83ed0ec3-24c8-49a6-a959-5e4bf1288bf}")).toEqual(["PARENT_LINKAGE_FORMAT"]);
    expect(bad("{83ed0ec3-24c8-49a6-a959-5e4bf1288bfb} ")).toEqual(["PARENT_LINKAGE_FORMAT"]);
    expect(bad("nope", "parent_linkage2")).toEqual(["PARENT_LINKAGE_FORMAT"]);
    expect(bad(LINKAGE.toUpperCase())).toEqual([]);
  });

  it("MISSING_PARENT_PATH; any one of the three paths is enough", () => {
    expect(rules(validateParentLocator(without("relative_path", "volume_path", "absolute_win32_path")))).toEqual([
      "MISSING_PARENT_PATH",
    ]);
    expect(validateParentLocator(without("relative_path", "volume_path"))).toEqual([]);
    expect(validateParentLocator(without("absolute_win32_path", "volume_path", "parent_linkage2"))).toEqual([]);
  });
});

describe("parent locator: hostile input", () => {
  it.each([
    ["header", decodeParentLocatorHeader, 20],
    ["entry", decodeParentLocatorEntry, 12],
    ["item", decodeParentLocator, 20],
  ] as const)("%s: TRUNCATED on 0, 1 and size - 1 bytes", (_name, decode, size) => {
    for (const length of [0, 1, size - 1]) expectVhdxError(() => decode(new Uint8Array(length)), "TRUNCATED");
  });

  it("a key/value count past the item is TRUNCATED before any entry is read", () => {
    const bytes = vector("parent_locator_header.1"); // count 5, but no entries follow
    const error = expectVhdxError(() => decodeParentLocator(bytes, 0, 0x310000), "TRUNCATED");
    expect(error.message).toBe("parent locator @0x310000: needs 80 bytes, only 20 available");
    const huge = encodeParentLocator(windowsLocator());
    setU16(huge, 18, 0xffff);
    expectVhdxError(() => decodeParentLocator(huge), "TRUNCATED");
  });

  it("key and value offsets and lengths outside the item are OUT_OF_RANGE", () => {
    const cases: Array<[number, number, "u32" | "u16"]> = [
      [entryAt(0), 0xffffffff, "u32"], // key offset
      [entryAt(0) + 4, 0xffffffff, "u32"], // value offset
      [entryAt(4) + 10, 0xfffe, "u16"], // value length of the last pair
    ];
    for (const [at, value, width] of cases) {
      const bytes = encodeParentLocator(windowsLocator());
      (width === "u32" ? setU32 : setU16)(bytes, at, value);
      const error = expectVhdxError(() => decodeParentLocator(bytes, 0, 0x310000), "OUT_OF_RANGE");
      expect(error.structure).toBe("parent locator");
      expect(error.offset).toBe(0x310000);
    }
    const one = encodeParentLocator(windowsLocator());
    setU32(one, entryAt(0), one.length - 27); // key ends one byte past the item
    const error = expectVhdxError(() => decodeParentLocator(one), "OUT_OF_RANGE");
    expect(error.field).toBe("entries[0].key");
    setU32(one, entryAt(0), one.length - 28); // key ends exactly at the end: fine
    expect(() => decodeParentLocator(one)).not.toThrow();
  });

  it("an item cut short of its last value is OUT_OF_RANGE", () => {
    const bytes = encodeParentLocator(windowsLocator());
    expectVhdxError(() => decodeParentLocator(bytes.subarray(0, bytes.length - 1)), "OUT_OF_RANGE");
  });

  it("encoder: values that do not fit or are not strings", () => {
    expectVhdxError(
      () => encodeParentLocator({ locatorType: VHDX_PARENT_LOCATOR_TYPE_GUID, entries: { k: "x".repeat(40000) } }),
      "OUT_OF_RANGE",
    );
    expect(() =>
      encodeParentLocator({ locatorType: VHDX_PARENT_LOCATOR_TYPE_GUID, entries: { k: 1 as unknown as string } }),
    ).toThrow(TypeError);
    expect(() => encodeParentLocator({ locatorType: "vhdx", entries: {} })).toThrow(TypeError);
    expectVhdxError(
      () => encodeParentLocatorEntry({ keyOffset: 1, valueOffset: 1, keyLength: 65536, valueLength: 1 }),
      "OUT_OF_RANGE",
    );
  });
});
