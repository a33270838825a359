import { describe, expect, it } from "vitest";
import {
  type Header,
  assertValid,
  computeHeaderChecksum,
  decodeHeader,
  encodeHeader,
  validateHeader,
  verifyHeaderChecksum,
} from "../src/index.js";
import { expectVhdxError, makeSafeU64, random, rules, setU32, setU64, vector } from "./helpers.js";

const NIL = "00000000-0000-0000-0000-000000000000";

function randomHeader(seed: number): Header {
  const r = random(seed);
  const value = {
    signature: "head",
    checksum: 0,
    sequenceNumber: r.bigU64(),
    fileWriteGuid: r.guid(),
    dataWriteGuid: r.guid(),
    logGuid: r.bool() ? NIL : r.guid(),
    logVersion: r.int(0x10000),
    version: r.int(0x10000),
    logLength: r.u32(),
    logOffset: r.safeU64(),
    reserved: r.bool() ? new Uint8Array(4016) : r.bytes(4016),
  };
  value.checksum = computeHeaderChecksum(encodeHeader(value));
  return value;
}

describe("header: the real Windows bytes", () => {
  const bytes = vector("image_header.1");

  it("decodes every field the vectors README lists", () => {
    const header = decodeHeader(bytes);
    expect(header).toEqual({
      signature: "head",
      checksum: 0x9f69b235,
      sequenceNumber: 6n,
      fileWriteGuid: "a3cccdd4-e8ce-4321-9243-cdaa37d5a0e2",
      dataWriteGuid: "0ffbcd55-1320-498f-9c15-1a97335aafcd",
      logGuid: NIL,
      logVersion: 0,
      version: 1,
      logLength: 1048576,
      logOffset: 1048576,
      reserved: new Uint8Array(4016),
    });
  });

  it("re-encodes byte for byte, checksum included", () => {
    expect(encodeHeader(decodeHeader(bytes))).toEqual(bytes);
  });

  it("has a valid checksum and breaks no rule", () => {
    expect(verifyHeaderChecksum(bytes)).toBe(true);
    expect(computeHeaderChecksum(bytes)).toBe(0x9f69b235);
    expect(validateHeader(decodeHeader(bytes))).toEqual([]);
  });

  it("decodes and verifies at its place in a file image", () => {
    const file = new Uint8Array(0x20000);
    file.set(bytes, 0x10000);
    expect(decodeHeader(file, 0x10000, 0x10000).sequenceNumber).toBe(6n);
    expect(verifyHeaderChecksum(file, 0x10000)).toBe(true);
    expect(verifyHeaderChecksum(file, 0)).toBe(false);
  });
});

describe("header: round trips", () => {
  it("decode(encode(v)) equals v for random values", () => {
    for (let seed = 1; seed <= 40; seed++) {
      const value = randomHeader(seed);
      expect(decodeHeader(encodeHeader(value))).toEqual(value);
    }
  });

  it("encode(decode(b)) equals b for random bytes with a valid checksum", () => {
    const r = random(31);
    for (let i = 0; i < 20; i++) {
      const bytes = r.bytes(4096);
      makeSafeU64(bytes, 72);
      setU32(bytes, 4, computeHeaderChecksum(bytes));
      expect(encodeHeader(decodeHeader(bytes))).toEqual(bytes);
    }
  });

  it("encodes without reserved, signature or checksum: zeros, 'head', computed", () => {
    const { reserved: _r, signature: _s, checksum: _c, ...rest } = decodeHeader(vector("image_header.1"));
    expect(encodeHeader(rest)).toEqual(vector("image_header.1"));
  });

  it("computes the checksum whatever checksum the value carries", () => {
    const value = { ...decodeHeader(vector("image_header.1")), checksum: 1234 };
    expect(verifyHeaderChecksum(encodeHeader(value))).toBe(true);
  });
});

describe("header: validator", () => {
  const good = () => decodeHeader(vector("image_header.1"));
  const broken = (change: (h: Header) => void) => {
    const header = good();
    change(header);
    header.checksum = computeHeaderChecksum(encodeHeader(header));
    return rules(validateHeader(header));
  };

  it("SIGNATURE, with an actionable message through assertValid", () => {
    const bytes = vector("image_header.1");
    bytes.fill(0, 0, 4);
    const header = decodeHeader(bytes, 0, 0x10000);
    const violations = validateHeader(header);
    expect(rules(violations)).toEqual(["SIGNATURE", "CHECKSUM"]);
    const error = expectVhdxError(
      () => assertValid(violations, { structure: "header", offset: 0x10000 }),
      "BAD_SIGNATURE",
    );
    expect(error.message).toBe('header @0x10000: signature is 0x00000000, expected "head"');
    expect(error.field).toBe("signature");
    expect(error.offset).toBe(0x10000);
  });

  it("CHECKSUM", () => {
    const bytes = vector("image_header.1");
    bytes[200] = 1;
    const violations = validateHeader(decodeHeader(bytes));
    expect(rules(violations)).toEqual(["CHECKSUM", "RESERVED"]);
    expect(violations[0]!.code).toBe("CHECKSUM_MISMATCH");
    const bytes2 = vector("image_header.1");
    setU32(bytes2, 4, 0);
    expect(rules(validateHeader(decodeHeader(bytes2)))).toEqual(["CHECKSUM"]);
  });

  it("VERSION", () => {
    const violations = validateHeader({ ...good(), version: 2 });
    expect(rules(violations)).toContain("VERSION");
    expect(broken((h) => (h.version = 2))).toEqual(["VERSION"]);
    expect(violations.find((v) => v.rule === "VERSION")!.code).toBe("BAD_VERSION");
  });

  it("LOG_VERSION", () => {
    expect(broken((h) => (h.logVersion = 1))).toEqual(["LOG_VERSION"]);
  });

  it("ALIGNMENT of the log length and offset", () => {
    expect(broken((h) => (h.logLength = 1048576 + 4096))).toEqual(["ALIGNMENT"]);
    expect(broken((h) => (h.logOffset = 1048576 + 512))).toEqual(["ALIGNMENT"]);
  });

  it("HEADER_SECTION: a log inside the first 1 MiB", () => {
    expect(broken((h) => (h.logOffset = 0))).toEqual(["HEADER_SECTION"]);
    expect(
      broken((h) => {
        h.logOffset = 0;
        h.logLength = 0;
      }),
    ).toEqual([]);
  });

  it("RESERVED", () => {
    expect(broken((h) => (h.reserved[4015] = 1))).toEqual(["RESERVED"]);
  });
});

describe("header: hostile input", () => {
  it.each([0, 1, 4095])("throws TRUNCATED on %i bytes", (length) => {
    const error = expectVhdxError(() => decodeHeader(new Uint8Array(length), 0, 0x10000), "TRUNCATED");
    expect(error.structure).toBe("header");
    expect(error.message).toBe(`header @0x10000: needs 4096 bytes, only ${length} available`);
    expectVhdxError(() => verifyHeaderChecksum(new Uint8Array(length)), "TRUNCATED");
  });

  it("throws TRUNCATED when the offset leaves too few bytes, even past the end", () => {
    expectVhdxError(() => decodeHeader(new Uint8Array(8192), 4097), "TRUNCATED");
    expectVhdxError(() => decodeHeader(new Uint8Array(10), 100), "TRUNCATED");
  });

  it("throws OUT_OF_RANGE for a log offset of 2^53, and reads 2^53 - 1", () => {
    const bytes = vector("image_header.1");
    setU64(bytes, 72, 2n ** 53n);
    const error = expectVhdxError(() => decodeHeader(bytes, 0, 0x10000), "OUT_OF_RANGE");
    expect(error.field).toBe("logOffset");
    expect(error.message).toBe("header @0x10000: logOffset is 0x20000000000000, past 2^53 - 1");
    setU64(bytes, 72, 2n ** 53n - 1n);
    expect(decodeHeader(bytes).logOffset).toBe(Number.MAX_SAFE_INTEGER);
    setU64(bytes, 72, 2n ** 64n - 1n);
    expectVhdxError(() => decodeHeader(bytes), "OUT_OF_RANGE");
  });

  it("reads the full u64 sequence number as a bigint", () => {
    const bytes = vector("image_header.1");
    setU64(bytes, 8, 2n ** 64n - 1n);
    expect(decodeHeader(bytes).sequenceNumber).toBe(2n ** 64n - 1n);
  });

  it("encoder: OUT_OF_RANGE for values that do not fit, TypeError for wrong types", () => {
    const h = decodeHeader(vector("image_header.1"));
    expectVhdxError(() => encodeHeader({ ...h, logOffset: 2 ** 53 }), "OUT_OF_RANGE");
    expectVhdxError(() => encodeHeader({ ...h, logOffset: -1 }), "OUT_OF_RANGE");
    expectVhdxError(() => encodeHeader({ ...h, logLength: 2 ** 32 }), "OUT_OF_RANGE");
    expectVhdxError(() => encodeHeader({ ...h, version: 1.5 }), "OUT_OF_RANGE");
    expectVhdxError(() => encodeHeader({ ...h, sequenceNumber: 2n ** 64n }), "OUT_OF_RANGE");
    expectVhdxError(() => encodeHeader({ ...h, reserved: new Uint8Array(10) }), "BAD_FIELD");
    expect(() => encodeHeader({ ...h, sequenceNumber: 6 as unknown as bigint })).toThrow(TypeError);
    expect(() => encodeHeader({ ...h, logGuid: "nope" })).toThrow(TypeError);
    expect(() => decodeHeader("head" as unknown as Uint8Array)).toThrow(TypeError);
  });
});
