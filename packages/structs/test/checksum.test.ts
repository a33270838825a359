import { describe, expect, it } from "vitest";
import { crc32c } from "@vhdx/crc32c";
import { computeChecksum, verifyChecksum, writeChecksum } from "../src/index.js";
import { expectVhdxError, random, vector } from "./helpers.js";

describe("computeChecksum / verifyChecksum", () => {
  it("gives the stored checksum of the real Windows header (0x9F69B235)", () => {
    const header = vector("image_header.1");
    expect(computeChecksum(header, 4)).toBe(0x9f69b235);
    expect(verifyChecksum(header, 4)).toBe(true);
  });

  it("gives the region table checksum 0xC66B8CAE over the zero-padded 64 KiB table", () => {
    const table = new Uint8Array(65536);
    table.set(vector("region_table.1"));
    expect(computeChecksum(table, 4)).toBe(0xc66b8cae);
    expect(verifyChecksum(table, 4)).toBe(true);
  });

  it("equals crc32c of a copy with the field zeroed, and leaves the input untouched", () => {
    const r = random(11);
    for (const length of [4, 5, 64, 300, 4096]) {
      const bytes = r.bytes(length);
      const before = bytes.slice();
      const at = r.int(length - 3);
      const copy = bytes.slice();
      copy.fill(0, at, at + 4);
      expect(computeChecksum(bytes, at)).toBe(crc32c(copy));
      expect(bytes).toEqual(before);
    }
  });

  it("works on a view at a non-zero byteOffset", () => {
    const backing = new Uint8Array(4096 + 7);
    backing.set(vector("image_header.1"), 7);
    expect(verifyChecksum(backing.subarray(7), 4)).toBe(true);
  });

  it("detects a single flipped bit", () => {
    const header = vector("image_header.1");
    header[100] = header[100]! ^ 1;
    expect(verifyChecksum(header, 4)).toBe(false);
  });

  it("writeChecksum stores the computed value in place", () => {
    const bytes = random(12).bytes(512);
    const value = writeChecksum(bytes, 8);
    expect(verifyChecksum(bytes, 8)).toBe(true);
    expect(new DataView(bytes.buffer).getUint32(8, true)).toBe(value);
  });

  it("throws TRUNCATED when the checksum field lies past the end", () => {
    expectVhdxError(() => computeChecksum(new Uint8Array(6), 4), "TRUNCATED");
    expectVhdxError(() => verifyChecksum(new Uint8Array(0), 0), "TRUNCATED");
  });

  it("throws a TypeError for arguments of the wrong type", () => {
    expect(() => computeChecksum([1, 2, 3, 4] as unknown as Uint8Array, 0)).toThrow(TypeError);
    expect(() => computeChecksum(new Uint8Array(8), -1)).toThrow(TypeError);
    expect(() => computeChecksum(new Uint8Array(8), 1.5)).toThrow(TypeError);
  });
});
