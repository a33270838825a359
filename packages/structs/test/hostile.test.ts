// Whatever the bytes, a decoder returns a value or throws a VhdxError: never a
// RangeError from a typed array, never a TypeError, never a long loop.
import { describe, expect, it } from "vitest";
import * as structs from "../src/index.js";
import { VhdxError } from "../src/index.js";
import { random, setU16, setU32 } from "./helpers.js";

type Decoder = (bytes: Uint8Array, offset?: number, fileOffset?: number) => unknown;

const DECODERS: Array<[string, Decoder, number]> = [
  ["decodeFileIdentifier", structs.decodeFileIdentifier, 520],
  ["decodeHeader", structs.decodeHeader, 4096],
  ["decodeRegionTableHeader", structs.decodeRegionTableHeader, 16],
  ["decodeRegionTableEntry", structs.decodeRegionTableEntry, 32],
  ["decodeRegionTable", structs.decodeRegionTable, 65536],
  ["decodeMetadataTableHeader", structs.decodeMetadataTableHeader, 32],
  ["decodeMetadataTableEntry", structs.decodeMetadataTableEntry, 32],
  ["decodeMetadataTable", structs.decodeMetadataTable, 65536],
  ["decodeFileParameters", structs.decodeFileParameters, 8],
  ["decodeVirtualDiskSize", structs.decodeVirtualDiskSize, 8],
  ["decodeVirtualDiskId", structs.decodeVirtualDiskId, 16],
  ["decodeLogicalSectorSize", structs.decodeLogicalSectorSize, 4],
  ["decodePhysicalSectorSize", structs.decodePhysicalSectorSize, 4],
  ["decodeParentLocatorHeader", structs.decodeParentLocatorHeader, 20],
  ["decodeParentLocatorEntry", structs.decodeParentLocatorEntry, 12],
  ["decodeParentLocator", structs.decodeParentLocator, 20],
  ["decodeLogEntryHeader", structs.decodeLogEntryHeader, 64],
  ["decodeZeroDescriptor", structs.decodeZeroDescriptor, 32],
  ["decodeDataDescriptor", structs.decodeDataDescriptor, 32],
  ["decodeDataSector", structs.decodeDataSector, 4096],
  ["decodeBatEntry", structs.decodeBatEntry, 8],
];

function outcome(decode: Decoder, bytes: Uint8Array, offset = 0): "ok" | string {
  try {
    decode(bytes, offset, 0x100000);
    return "ok";
  } catch (error) {
    if (VhdxError.isInstance(error)) return error.code;
    throw error;
  }
}

describe("every decoder on short and hostile input", () => {
  it.each(DECODERS)(
    "%s: TRUNCATED on 0, 1 and size - 1 bytes, and at an offset past the end",
    (_name, decode, size) => {
      for (const length of [0, 1, size - 1]) expect(outcome(decode, new Uint8Array(length))).toBe("TRUNCATED");
      expect(outcome(decode, new Uint8Array(size), 1)).toBe("TRUNCATED");
      expect(outcome(decode, new Uint8Array(size), size + 100)).toBe("TRUNCATED");
      expect(outcome(decode, new Uint8Array(size))).toBe("ok");
    },
  );

  it.each(DECODERS)("%s: random bytes give a value or a VhdxError", (_name, decode, size) => {
    const r = random(size);
    const codes = new Set<string>();
    const rounds = size >= 65536 ? 20 : 200;
    for (let i = 0; i < rounds; i++) {
      const bytes = r.bytes(r.int(size + 64));
      codes.add(outcome(decode, bytes));
    }
    for (const code of codes) expect(["ok", "TRUNCATED", "OUT_OF_RANGE", "BAD_FIELD"]).toContain(code);
  });

  it.each(DECODERS)("%s: a view into a larger buffer reads only its own bytes", (_name, decode, size) => {
    const backing = new Uint8Array(size + 32).fill(0xab);
    const view = backing.subarray(16, 16 + size - 1);
    expect(outcome(decode, view)).toBe("TRUNCATED");
  });

  it("tables with every count from 0 to 0xffff decode or fail fast", () => {
    const region = new Uint8Array(65536);
    const metadata = new Uint8Array(65536);
    const started = Date.now();
    for (let count = 0; count <= 0xffff; count += 97) {
      setU32(region, 8, count);
      setU16(metadata, 10, count);
      expect(outcome(structs.decodeRegionTable, region)).toBe(count <= 2047 ? "ok" : "BAD_FIELD");
      expect(outcome(structs.decodeMetadataTable, metadata)).toBe(count <= 2047 ? "ok" : "BAD_FIELD");
    }
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it("parent locators with random counts, offsets and lengths decode or throw a VhdxError", () => {
    const r = random(99);
    const seen = new Set<string>();
    for (let i = 0; i < 500; i++) {
      const count = r.int(6);
      const bytes = r.bytes(20 + 12 * count + r.int(200));
      setU16(bytes, 18, r.bool() ? count : r.int(0x10000));
      for (let e = 0; e < count; e++) {
        setU32(bytes, 20 + 12 * e, r.int(bytes.length + 8));
        setU32(bytes, 24 + 12 * e, r.int(bytes.length + 8));
        setU16(bytes, 28 + 12 * e, r.int(64));
        setU16(bytes, 30 + 12 * e, r.int(64));
      }
      seen.add(outcome(structs.decodeParentLocator, bytes));
    }
    expect([...seen].sort()).toEqual(["OUT_OF_RANGE", "TRUNCATED", "ok"]);
  });

  it("decoders throw TypeError only for arguments of the wrong type", () => {
    for (const [, decode] of DECODERS) {
      expect(() => decode(null as unknown as Uint8Array)).toThrow(TypeError);
      expect(() => decode(new Uint8Array(70000), -1)).toThrow(TypeError);
      expect(() => decode(new Uint8Array(70000), 0.5)).toThrow(TypeError);
      expect(() => decode(new Uint8Array(70000), 0, -5)).toThrow(TypeError);
    }
  });
});
