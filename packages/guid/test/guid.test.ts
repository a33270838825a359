import { describe, expect, it } from "vitest";
import {
  NIL_GUID,
  guidEquals,
  guidFromBytes,
  guidToBytes,
  isGuid,
  isNilGuid,
  normalizeGuid,
  randomGuid,
  writeGuid,
} from "../src/index.js";

const BAT_REGION = "2DC27766-F623-4200-9D64-115E9BFD4A08";
const BAT_REGION_BYTES = [
  0x66, 0x77, 0xc2, 0x2d, 0x23, 0xf6, 0x00, 0x42, 0x9d, 0x64, 0x11, 0x5e, 0x9b, 0xfd, 0x4a, 0x08,
];

describe("guidToBytes", () => {
  it("stores the BAT region GUID in the Microsoft layout", () => {
    expect([...guidToBytes(BAT_REGION)]).toEqual(BAT_REGION_BYTES);
  });

  it("accepts lower case and braces", () => {
    expect([...guidToBytes(BAT_REGION.toLowerCase())]).toEqual(BAT_REGION_BYTES);
    expect([...guidToBytes(`{${BAT_REGION}}`)]).toEqual(BAT_REGION_BYTES);
    expect([...guidToBytes(`{${BAT_REGION.toLowerCase()}}`)]).toEqual(BAT_REGION_BYTES);
  });

  it.each([
    "",
    "2DC27766F62342009D64115E9BFD4A08",
    "2DC27766-F623-4200-9D64-115E9BFD4A0",
    "2DC27766-F623-4200-9D64-115E9BFD4A089",
    "2DC27766-F623-4200-9D64-115E9BFD4A0G",
    "{2DC27766-F623-4200-9D64-115E9BFD4A08",
    "2DC27766-F623-4200-9D64-115E9BFD4A08}",
    "(2DC27766-F623-4200-9D64-115E9BFD4A08)",
    " 2DC27766-F623-4200-9D64-115E9BFD4A08",
    "2DC27766-F623-4200-9D64-115E9BFD4A08\n",
  ])("throws a TypeError for %j", (text) => {
    expect(() => guidToBytes(text)).toThrow(TypeError);
    expect(isGuid(text)).toBe(false);
  });

  it("throws a TypeError for a value that is not a string", () => {
    expect(() => guidToBytes(42 as unknown as string)).toThrow(TypeError);
    expect(isGuid(undefined as unknown as string)).toBe(false);
  });
});

describe("guidFromBytes", () => {
  it("reads the BAT region GUID, lower case without braces", () => {
    expect(guidFromBytes(Uint8Array.from(BAT_REGION_BYTES))).toBe(BAT_REGION.toLowerCase());
  });

  it("reads at an offset inside a larger array", () => {
    const bytes = new Uint8Array(40);
    bytes.set(BAT_REGION_BYTES, 20);
    expect(guidFromBytes(bytes, 20)).toBe(BAT_REGION.toLowerCase());
    expect(guidFromBytes(bytes.subarray(20))).toBe(BAT_REGION.toLowerCase());
  });

  it("refuses to read past the end or at a bad offset", () => {
    expect(() => guidFromBytes(new Uint8Array(15))).toThrow(RangeError);
    expect(() => guidFromBytes(new Uint8Array(16), 1)).toThrow(RangeError);
    expect(() => guidFromBytes(new Uint8Array(32), -1)).toThrow(RangeError);
    expect(() => guidFromBytes(new Uint8Array(32), 1.5)).toThrow(RangeError);
    expect(() => guidFromBytes([1, 2] as unknown as Uint8Array)).toThrow(TypeError);
  });
});

describe("round trips", () => {
  it("text -> bytes -> text for many random GUIDs", () => {
    for (let i = 0; i < 200; i++) {
      const guid = randomGuid();
      expect(guidFromBytes(guidToBytes(guid))).toBe(guid);
      expect(guidFromBytes(guidToBytes(guid.toUpperCase()))).toBe(guid);
    }
  });

  it("bytes -> text -> bytes for every byte value in every position", () => {
    for (let position = 0; position < 16; position++) {
      for (let value = 0; value < 256; value += 17) {
        const bytes = new Uint8Array(16).fill(0x5a);
        bytes[position] = value;
        expect([...guidToBytes(guidFromBytes(bytes))]).toEqual([...bytes]);
      }
    }
  });

  it("writeGuid writes in place and leaves the neighbours alone", () => {
    const target = new Uint8Array(20).fill(0xee);
    writeGuid(BAT_REGION, target, 2);
    expect([...target.subarray(2, 18)]).toEqual(BAT_REGION_BYTES);
    expect([target[0], target[1], target[18], target[19]]).toEqual([0xee, 0xee, 0xee, 0xee]);
    expect(() => writeGuid(BAT_REGION, target, 5)).toThrow(RangeError);
  });
});

describe("randomGuid, NIL_GUID and helpers", () => {
  it("makes distinct version-4 GUIDs", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const guid = randomGuid();
      expect(guid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      seen.add(guid);
    }
    expect(seen.size).toBe(1000);
  });

  it("knows the nil GUID in any form", () => {
    expect([...guidToBytes(NIL_GUID)]).toEqual(new Array(16).fill(0));
    expect(isNilGuid(NIL_GUID)).toBe(true);
    expect(isNilGuid(`{${NIL_GUID}}`)).toBe(true);
    expect(isNilGuid(BAT_REGION)).toBe(false);
    expect(() => isNilGuid("zero")).toThrow(TypeError);
  });

  it("compares and normalizes GUID texts", () => {
    expect(normalizeGuid(`{${BAT_REGION}}`)).toBe(BAT_REGION.toLowerCase());
    expect(guidEquals(BAT_REGION, `{${BAT_REGION.toLowerCase()}}`)).toBe(true);
    expect(guidEquals(BAT_REGION, NIL_GUID)).toBe(false);
  });
});
