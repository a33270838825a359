import { describe, expect, it, vi } from "vitest";
import { VhdxError, assertValid, decodeRegionTable } from "../src/index.js";

describe("VhdxError", () => {
  it("carries code, structure, field, offset and detail, and formats the message", () => {
    const error = new VhdxError("BAD_SIGNATURE", 'signature is 0x00000000, expected "regi"', {
      structure: "region table",
      field: "signature",
      offset: 0x30000,
    });
    expect(error.message).toBe('region table @0x30000: signature is 0x00000000, expected "regi"');
    expect(error).toMatchObject({
      name: "VhdxError",
      code: "BAD_SIGNATURE",
      structure: "region table",
      field: "signature",
      offset: 0x30000,
    });
    expect(error.detail).toBe('signature is 0x00000000, expected "regi"');
    expect(error).toBeInstanceOf(Error);
  });

  it("omits the offset when unknown and keeps a cause", () => {
    const cause = new Error("disk gone");
    const error = new VhdxError("IO_ERROR", "read failed", { structure: "header", cause });
    expect(error.message).toBe("header: read failed");
    expect(error.cause).toBe(cause);
    expect(new VhdxError("TRUNCATED", "short").message).toBe("short");
  });

  it("is recognised across two loaded copies of the module", async () => {
    vi.resetModules();
    const other = await import("../src/errors.js");
    expect(other.VhdxError).not.toBe(VhdxError);
    const foreign = new other.VhdxError("TRUNCATED", "short");
    expect(foreign instanceof VhdxError).toBe(false);
    expect(VhdxError.isInstance(foreign)).toBe(true);
    expect(other.VhdxError.isInstance(new VhdxError("TRUNCATED", "short"))).toBe(true);
  });

  it("isInstance is false for other values", () => {
    for (const value of [null, undefined, 0, "VhdxError", new Error("x"), { code: "TRUNCATED" }]) {
      expect(VhdxError.isInstance(value)).toBe(false);
    }
  });

  it("decoders report the structure's absolute file offset", () => {
    try {
      decodeRegionTable(new Uint8Array(100), 0, 0x40000);
      expect.unreachable();
    } catch (error) {
      expect(VhdxError.isInstance(error)).toBe(true);
      expect((error as VhdxError).offset).toBe(0x40000);
      expect((error as VhdxError).structure).toBe("region table");
    }
  });

  it("assertValid does nothing for an empty list", () => {
    expect(() => assertValid([], { structure: "header" })).not.toThrow();
  });

  it("inFile names the file and keeps the code, message, structure, offset and cause", () => {
    const cause = new Error("disk on fire");
    const error = new VhdxError("BAD_FIELD", "BlockSize is 3", {
      structure: "file parameters",
      field: "BlockSize",
      offset: 0x300000,
      cause,
    });
    const named = VhdxError.inFile(error, "/vms/disk.vhdx");
    expect(named).toMatchObject({
      code: "BAD_FIELD",
      message: error.message,
      structure: "file parameters",
      field: "BlockSize",
      offset: 0x300000,
      file: "/vms/disk.vhdx",
    });
    expect(named.cause).toBe(cause);
    expect(error.file).toBeUndefined();
    expect(VhdxError.inFile(named, "/other.vhdx").file).toBe("/vms/disk.vhdx");
  });
});
