import { describe, expect, it } from "vitest";
import {
  decodeFileParameters,
  decodeLogicalSectorSize,
  decodePhysicalSectorSize,
  decodeVirtualDiskId,
  decodeVirtualDiskSize,
  encodeFileParameters,
  encodeLogicalSectorSize,
  encodePhysicalSectorSize,
  encodeVirtualDiskId,
  encodeVirtualDiskSize,
  validateFileParameters,
  validateLogicalSectorSize,
  validatePhysicalSectorSize,
  validateVirtualDiskSize,
} from "../src/index.js";
import { expectVhdxError, hexOf, random, rules, setU64 } from "./helpers.js";

const MiB = 1048576;
const TiB = 2 ** 40;

describe("file parameters", () => {
  it("decodes known bytes: 32 MiB blocks, a dynamic disk", () => {
    const bytes = Uint8Array.from([0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00]);
    expect(decodeFileParameters(bytes)).toEqual({
      blockSize: 32 * MiB,
      leaveBlockAllocated: false,
      hasParent: false,
      reserved: 0,
    });
  });

  it("encodes the flags: bit 0 LeaveBlockAllocated, bit 1 HasParent", () => {
    expect(hexOf(encodeFileParameters({ blockSize: MiB, leaveBlockAllocated: true, hasParent: false }))).toBe(
      "0000100001000000",
    );
    expect(hexOf(encodeFileParameters({ blockSize: 256 * MiB, leaveBlockAllocated: false, hasParent: true }))).toBe(
      "0000001002000000",
    );
  });

  it("round trips random values and random bytes", () => {
    const r = random(61);
    for (let i = 0; i < 50; i++) {
      const value = { blockSize: r.u32(), leaveBlockAllocated: r.bool(), hasParent: r.bool(), reserved: r.u32() >>> 2 };
      expect(decodeFileParameters(encodeFileParameters(value))).toEqual(value);
      const bytes = r.bytes(8);
      expect(encodeFileParameters(decodeFileParameters(bytes))).toEqual(bytes);
    }
  });

  it("BLOCK_SIZE: a power of two from 1 MiB to 256 MiB", () => {
    const ok = { blockSize: MiB, leaveBlockAllocated: false, hasParent: false, reserved: 0 };
    for (let size = MiB; size <= 256 * MiB; size *= 2)
      expect(validateFileParameters({ ...ok, blockSize: size })).toEqual([]);
    for (const size of [0, MiB / 2, 3 * MiB, 512 * MiB, MiB + 1]) {
      expect(rules(validateFileParameters({ ...ok, blockSize: size })), `block size ${size}`).toEqual(["BLOCK_SIZE"]);
    }
  });

  it("RESERVED flag bits", () => {
    expect(
      rules(validateFileParameters({ blockSize: MiB, leaveBlockAllocated: false, hasParent: false, reserved: 1 })),
    ).toEqual(["RESERVED"]);
  });
});

describe("virtual disk size", () => {
  it("decodes and encodes known bytes: 127 GiB", () => {
    const bytes = Uint8Array.from([0, 0, 0, 0xc0, 0x1f, 0, 0, 0]);
    expect(decodeVirtualDiskSize(bytes)).toBe(127 * 2 ** 30);
    expect(encodeVirtualDiskSize(127 * 2 ** 30)).toEqual(bytes);
  });

  it("round trips random sizes up to 2^53 - 1", () => {
    const r = random(62);
    for (let i = 0; i < 50; i++) {
      const size = r.safeU64();
      expect(decodeVirtualDiskSize(encodeVirtualDiskSize(size))).toBe(size);
    }
    expect(decodeVirtualDiskSize(encodeVirtualDiskSize(Number.MAX_SAFE_INTEGER))).toBe(Number.MAX_SAFE_INTEGER);
  });

  it("OUT_OF_RANGE past 2^53 - 1, on decode and encode", () => {
    const bytes = new Uint8Array(8);
    setU64(bytes, 0, 2n ** 53n);
    const error = expectVhdxError(() => decodeVirtualDiskSize(bytes, 0, 0x210000), "OUT_OF_RANGE");
    expect(error.message).toBe("virtual disk size @0x210000: virtualDiskSize is 0x20000000000000, past 2^53 - 1");
    expectVhdxError(() => encodeVirtualDiskSize(2 ** 53), "OUT_OF_RANGE");
  });

  it("DISK_SIZE_LIMIT: at most 64 TiB", () => {
    expect(validateVirtualDiskSize(64 * TiB, { logicalSectorSize: 4096 })).toEqual([]);
    expect(rules(validateVirtualDiskSize(64 * TiB + 4096, { logicalSectorSize: 4096 }))).toEqual(["DISK_SIZE_LIMIT"]);
  });

  it("SECTOR_MULTIPLE: a multiple of the logical sector size, when known", () => {
    expect(rules(validateVirtualDiskSize(MiB + 512, { logicalSectorSize: 4096 }))).toEqual(["SECTOR_MULTIPLE"]);
    expect(validateVirtualDiskSize(MiB + 512, { logicalSectorSize: 512 })).toEqual([]);
    expect(validateVirtualDiskSize(MiB + 512)).toEqual([]);
  });
});

describe("virtual disk id", () => {
  it("decodes and encodes a GUID in the Microsoft layout", () => {
    const bytes = Uint8Array.from([
      0x66, 0x77, 0xc2, 0x2d, 0x23, 0xf6, 0x00, 0x42, 0x9d, 0x64, 0x11, 0x5e, 0x9b, 0xfd, 0x4a, 0x08,
    ]);
    expect(decodeVirtualDiskId(bytes)).toBe("2dc27766-f623-4200-9d64-115e9bfd4a08");
    expect(encodeVirtualDiskId("2DC27766-F623-4200-9D64-115E9BFD4A08")).toEqual(bytes);
  });

  it("round trips random GUIDs and refuses text that is not one", () => {
    const r = random(63);
    for (let i = 0; i < 20; i++) {
      const id = r.guid();
      expect(decodeVirtualDiskId(encodeVirtualDiskId(id))).toBe(id);
    }
    expect(() => encodeVirtualDiskId("not a guid")).toThrow(TypeError);
  });
});

describe("logical and physical sector size", () => {
  it.each([
    ["logical", decodeLogicalSectorSize, encodeLogicalSectorSize, validateLogicalSectorSize],
    ["physical", decodePhysicalSectorSize, encodePhysicalSectorSize, validatePhysicalSectorSize],
  ] as const)("%s: decodes, encodes and checks SECTOR_SIZE", (_name, decode, encode, validate) => {
    expect(decode(Uint8Array.from([0, 2, 0, 0]))).toBe(512);
    expect(decode(Uint8Array.from([0, 0x10, 0, 0]))).toBe(4096);
    expect(encode(4096)).toEqual(Uint8Array.from([0, 0x10, 0, 0]));
    expect(validate(512)).toEqual([]);
    expect(validate(4096)).toEqual([]);
    for (const bad of [0, 1024, 520, 8192]) expect(rules(validate(bad))).toEqual(["SECTOR_SIZE"]);
    const r = random(64);
    for (let i = 0; i < 20; i++) {
      const value = r.u32();
      expect(decode(encode(value))).toBe(value);
    }
    expectVhdxError(() => encode(2 ** 32), "OUT_OF_RANGE");
  });
});

describe("metadata items: hostile input", () => {
  it.each([
    ["file parameters", decodeFileParameters, 8],
    ["virtual disk size", decodeVirtualDiskSize, 8],
    ["virtual disk id", decodeVirtualDiskId, 16],
    ["logical sector size", decodeLogicalSectorSize, 4],
    ["physical sector size", decodePhysicalSectorSize, 4],
  ] as const)("%s: TRUNCATED on 0, 1 and size - 1 bytes", (name, decode, size) => {
    for (const length of [0, 1, size - 1]) {
      const error = expectVhdxError(() => decode(new Uint8Array(length)), "TRUNCATED");
      expect(error.structure).toBe(name);
    }
  });
});
