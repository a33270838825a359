import { describe, expect, it } from "vitest";
import {
  FILE_IDENTIFIER_SIZE,
  decodeFileIdentifier,
  encodeFileIdentifier,
  validateFileIdentifier,
} from "../src/index.js";
import { expectVhdxError, random, rules, vector } from "./helpers.js";

describe("file identifier", () => {
  it("decodes the real Windows 10 bytes", () => {
    const bytes = vector("file_identifier.1");
    expect(bytes.length).toBe(520);
    const value = decodeFileIdentifier(bytes);
    expect(value).toEqual({ signature: "vhdxfile", creator: "Microsoft Windows 10.0.19041.0" });
    expect(validateFileIdentifier(value)).toEqual([]);
  });

  it("re-encodes the real bytes byte for byte", () => {
    const bytes = vector("file_identifier.1");
    expect(encodeFileIdentifier(decodeFileIdentifier(bytes))).toEqual(bytes);
  });

  it("decodes at an offset inside a larger buffer", () => {
    const big = new Uint8Array(65536 + 3);
    big.set(vector("file_identifier.1"), 3);
    expect(decodeFileIdentifier(big, 3).creator).toBe("Microsoft Windows 10.0.19041.0");
  });

  it("encodes 520 bytes with the signature and a NUL-padded creator", () => {
    const bytes = encodeFileIdentifier({ creator: "QEMU v7.2.0" });
    expect(bytes.length).toBe(FILE_IDENTIFIER_SIZE);
    expect(new TextDecoder().decode(bytes.subarray(0, 8))).toBe("vhdxfile");
    expect(new TextDecoder("utf-16le").decode(bytes.subarray(8, 30))).toBe("QEMU v7.2.0");
    expect(bytes.subarray(30).every((b) => b === 0)).toBe(true);
  });

  it("round trips random creators, including non-ASCII and a full 256-unit field", () => {
    const r = random(21);
    const samples = ["", "é ünïcödé 日本", "x".repeat(256)];
    for (let i = 0; i < 20; i++) {
      samples.push(String.fromCharCode(...Array.from({ length: r.int(256) }, () => 1 + r.int(0xd7ff))));
    }
    for (const creator of samples) {
      expect(decodeFileIdentifier(encodeFileIdentifier({ creator }))).toEqual({ signature: "vhdxfile", creator });
    }
  });

  it("keeps garbage after the creator's NUL so random bytes round trip", () => {
    const r = random(22);
    for (let i = 0; i < 20; i++) {
      const bytes = r.bytes(520);
      const value = decodeFileIdentifier(bytes);
      expect(encodeFileIdentifier(value)).toEqual(bytes);
    }
    const bytes = vector("file_identifier.1");
    bytes[519] = 0x41;
    const value = decodeFileIdentifier(bytes);
    expect(value.creator).toBe("Microsoft Windows 10.0.19041.0");
    expect(value.creatorPadding?.length).toBe(512 - 60);
    expect(encodeFileIdentifier(value)).toEqual(bytes);
  });

  it("validator: SIGNATURE", () => {
    const bytes = vector("file_identifier.1");
    bytes[0] = 0x56;
    const violations = validateFileIdentifier(decodeFileIdentifier(bytes));
    expect(rules(violations)).toEqual(["SIGNATURE"]);
    expect(violations[0]!.code).toBe("BAD_SIGNATURE");
    expect(violations[0]!.message).toBe('signature is 0x5668647866696c65, expected "vhdxfile"');
  });

  it("encoder refuses a creator longer than 256 code units and a bad signature", () => {
    expectVhdxError(() => encodeFileIdentifier({ creator: "x".repeat(257) }), "OUT_OF_RANGE");
    expectVhdxError(() => encodeFileIdentifier({ signature: "vhdx", creator: "" }), "BAD_FIELD");
    expect(() => encodeFileIdentifier({ creator: 5 as unknown as string })).toThrow(TypeError);
  });
});
