import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { CRC32C_POLYNOMIAL, crc32c } from "../src/index.js";

const ascii = (text: string) => new TextEncoder().encode(text);

/** The definition, one bit at a time: slow, obviously right, shares nothing with the tables. */
function referenceCrc32c(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** A small deterministic generator so a failure can be replayed. */
function* randomBytes(seed: number) {
  let state = seed >>> 0;
  for (;;) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    yield state >>> 24;
  }
}

function filled(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  const source = randomBytes(seed);
  for (let i = 0; i < length; i++) bytes[i] = source.next().value!;
  return bytes;
}

describe("crc32c known answers", () => {
  it("gives the check value for ASCII 123456789", () => {
    expect(crc32c(ascii("123456789"))).toBe(0xe3069283);
  });

  it("gives 0 for empty input and keeps a previous value on empty input", () => {
    expect(crc32c(new Uint8Array(0))).toBe(0);
    expect(crc32c(new Uint8Array(0), 0xe3069283)).toBe(0xe3069283);
  });

  it("matches the iSCSI vectors of RFC 3720 B.4", () => {
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    const ascending = Uint8Array.from({ length: 32 }, (_, i) => i);
    expect(crc32c(ascending)).toBe(0x46dd794e);
    expect(crc32c(ascending.slice().reverse())).toBe(0x113fdb5c);
  });

  it("checksums the real Windows 10 VHDX header with its checksum field zeroed", () => {
    const path = fileURLToPath(new URL("../../../../shared/vectors/libvhdi/image_header.1", import.meta.url));
    const header = new Uint8Array(readFileSync(path));
    expect(header.length).toBe(4096);
    const stored = new DataView(header.buffer, header.byteOffset).getUint32(4, true);
    header.fill(0, 4, 8);
    expect(crc32c(header)).toBe(0x9f69b235);
    expect(stored).toBe(0x9f69b235);
  });

  it("exports the reflected polynomial", () => {
    expect(CRC32C_POLYNOMIAL).toBe(0x82f63b78);
  });
});

describe("crc32c against the bit-by-bit definition", () => {
  it("agrees on every length from 0 to 600 (both loops and their tails)", () => {
    const data = filled(600, 1);
    for (let length = 0; length <= 600; length++) {
      const view = data.subarray(0, length);
      expect(crc32c(view), `length ${length}`).toBe(referenceCrc32c(view));
    }
  });

  it("agrees on views at every byte offset and alignment", () => {
    const backing = filled(5000, 2);
    for (let offset = 0; offset < 16; offset++) {
      for (const length of [1, 7, 255, 256, 257, 1000, 4096]) {
        const view = backing.subarray(offset, offset + length);
        expect(crc32c(view), `offset ${offset} length ${length}`).toBe(referenceCrc32c(view));
      }
    }
  });

  it("agrees on random lengths and offsets", () => {
    const backing = filled(70_000, 3);
    const picks = randomBytes(4);
    const next = () => (picks.next().value! << 8) | picks.next().value!;
    for (let round = 0; round < 40; round++) {
      const offset = next() % 1000;
      const length = (next() * 17) % (backing.length - offset);
      const view = backing.subarray(offset, offset + length);
      expect(crc32c(view)).toBe(referenceCrc32c(view));
    }
  });

  it("accepts a Node Buffer, which is a Uint8Array at a pool offset", () => {
    const text = "a Buffer from the shared pool, long enough to use the word loop ".repeat(8);
    const buffer = Buffer.from(text);
    expect(crc32c(buffer)).toBe(referenceCrc32c(ascii(text)));
  });
});

describe("crc32c incremental use", () => {
  it("continues a running checksum: crc32c(b, crc32c(a)) === crc32c(a ++ b)", () => {
    const whole = filled(9000, 5);
    const expected = crc32c(whole);
    for (const split of [0, 1, 3, 255, 256, 4096, 8999, 9000]) {
      const first = crc32c(whole.subarray(0, split));
      expect(crc32c(whole.subarray(split), first), `split at ${split}`).toBe(expected);
    }
  });

  it("chains many small pieces to the value of the whole", () => {
    const whole = filled(1000, 6);
    let running = 0;
    for (let i = 0; i < whole.length; i += 13) running = crc32c(whole.subarray(i, i + 13), running);
    expect(running).toBe(crc32c(whole));
  });
});

describe("crc32c arguments", () => {
  it("throws a TypeError for anything that is not a Uint8Array", () => {
    expect(() => crc32c("123456789" as unknown as Uint8Array)).toThrow(TypeError);
    expect(() => crc32c(new Uint16Array(4) as unknown as Uint8Array)).toThrow(TypeError);
    expect(() => crc32c(null as unknown as Uint8Array)).toThrow(TypeError);
  });
});
