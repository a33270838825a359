import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { WASM_MIN_LENGTH, createCrc32c } from "../src/crc32c.js";
import { CRC32C_POLYNOMIAL, crc32c } from "../src/index.js";
import { buildTables } from "../src/table.js";
import { WIDE_KERNEL_AFTER_PIECES, instantiateWasmUpdate, instantiateWideUpdate } from "../src/wasm-crc32c.js";
import { ByteWriter } from "../src/wasm-encoding.js";
import { INPUT_PIECE_BYTES } from "../src/wasm-kernel.js";
import { CHUNK_BYTES, LANES, WIDE_PIECE_BYTES } from "../src/wasm-wide-kernel.js";

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
    const path = fileURLToPath(new URL("./vectors/libvhdi/image_header.1", import.meta.url));
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

/** The JS loops alone: the fallback, and the reference for the WebAssembly kernel. */
const jsCrc32c = createCrc32c({ wasm: false });

/** The kernel with no length threshold in front of it, so even 1-byte inputs reach it. */
function wasmOnlyCrc32c(): (data: Uint8Array, previous?: number) => number {
  const update = instantiateWasmUpdate(buildTables(16));
  if (update === undefined) throw new Error("WebAssembly unavailable in the test environment");
  return (data, previous = 0) => ~update(~previous, data) >>> 0;
}

describe("JS fallback", () => {
  it("gives the known answers", () => {
    expect(jsCrc32c(ascii("123456789"))).toBe(0xe3069283);
    expect(jsCrc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(jsCrc32c(new Uint8Array(0), 0xe3069283)).toBe(0xe3069283);
  });

  it("agrees with the bit-by-bit definition on lengths around the loop thresholds, at every alignment", () => {
    const backing = filled(3000, 7);
    for (let offset = 0; offset < 8; offset++) {
      for (const length of [0, 1, 8, 15, 16, 17, 63, 64, 65, 255, 256, 257, 2048 + 5]) {
        const view = backing.subarray(offset, offset + length);
        expect(jsCrc32c(view), `offset ${offset} length ${length}`).toBe(referenceCrc32c(view));
      }
    }
  });

  it("continues a running checksum", () => {
    const whole = filled(5000, 8);
    expect(jsCrc32c(whole.subarray(1234), jsCrc32c(whole.subarray(0, 1234)))).toBe(referenceCrc32c(whole));
  });

  it("throws a TypeError for anything that is not a Uint8Array", () => {
    expect(() => jsCrc32c([1, 2, 3] as unknown as Uint8Array)).toThrow(TypeError);
  });
});

describe("WebAssembly encoding", () => {
  it("writes LEB128 numbers as the spec's examples and edge cases", () => {
    const unsigned = (value: number) => new ByteWriter().unsigned(value).bytes;
    const signed = (value: number) => new ByteWriter().signed(value).bytes;
    expect(unsigned(0)).toEqual([0x00]);
    expect(unsigned(127)).toEqual([0x7f]);
    expect(unsigned(128)).toEqual([0x80, 0x01]);
    expect(unsigned(624_485)).toEqual([0xe5, 0x8e, 0x26]);
    expect(unsigned(0xffffffff)).toEqual([0xff, 0xff, 0xff, 0xff, 0x0f]);
    expect(signed(0)).toEqual([0x00]);
    expect(signed(63)).toEqual([0x3f]);
    expect(signed(64)).toEqual([0xc0, 0x00]);
    expect(signed(-1)).toEqual([0x7f]);
    expect(signed(-16)).toEqual([0x70]);
    expect(signed(-64)).toEqual([0x40]);
    expect(signed(-65)).toEqual([0xbf, 0x7f]);
    expect(signed(-123_456)).toEqual([0xc0, 0xbb, 0x78]);
    expect(signed(16_384)).toEqual([0x80, 0x80, 0x01]);
  });
});

describe("WebAssembly kernel", () => {
  const wasmCrc32c = wasmOnlyCrc32c();

  it("gives the known answers", () => {
    expect(wasmCrc32c(ascii("123456789"))).toBe(0xe3069283);
    expect(wasmCrc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(wasmCrc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(wasmCrc32c(new Uint8Array(0))).toBe(0);
    expect(wasmCrc32c(new Uint8Array(0), 0xe3069283)).toBe(0xe3069283);
  });

  it("agrees with the bit-by-bit definition on every length from 0 to 300 (block loop and byte tail)", () => {
    const data = filled(300, 9);
    for (let length = 0; length <= 300; length++) {
      const view = data.subarray(0, length);
      expect(wasmCrc32c(view), `length ${length}`).toBe(referenceCrc32c(view));
    }
  });

  it("agrees with the JS loops on random lengths up to 200 KiB at random offsets", () => {
    const backing = filled(210_000, 10);
    const picks = randomBytes(11);
    const next = () => (picks.next().value! << 16) | (picks.next().value! << 8) | picks.next().value!;
    for (let round = 0; round < 60; round++) {
      const offset = next() % 4096;
      const length = next() % (200 * 1024 + 1);
      const view = backing.subarray(offset, offset + length);
      expect(wasmCrc32c(view), `offset ${offset} length ${length}`).toBe(jsCrc32c(view));
      expect(crc32c(view), `offset ${offset} length ${length}`).toBe(jsCrc32c(view));
    }
  });

  it("agrees with the JS loops on views at byte offsets 0 to 7 of a larger buffer", () => {
    const backing = filled(INPUT_PIECE_BYTES + 100, 12);
    for (let offset = 0; offset < 8; offset++) {
      for (const length of [64, 1000, 4096, INPUT_PIECE_BYTES - 3, INPUT_PIECE_BYTES + 9]) {
        const view = backing.subarray(offset, offset + length);
        expect(wasmCrc32c(view), `offset ${offset} length ${length}`).toBe(jsCrc32c(view));
      }
    }
  });

  it("handles inputs several pieces long, including a partial last piece", () => {
    for (const length of [INPUT_PIECE_BYTES, 2 * INPUT_PIECE_BYTES, 3 * INPUT_PIECE_BYTES + 12_345]) {
      const data = filled(length, length);
      expect(wasmCrc32c(data), `length ${length}`).toBe(referenceCrc32c(data));
    }
  });

  it("continues a running checksum across splits on and around the piece size", () => {
    const whole = filled(3 * INPUT_PIECE_BYTES + 500, 13);
    const expected = jsCrc32c(whole);
    for (const split of [
      1,
      63,
      64,
      INPUT_PIECE_BYTES - 1,
      INPUT_PIECE_BYTES,
      INPUT_PIECE_BYTES + 1,
      2 * INPUT_PIECE_BYTES + 7,
    ]) {
      const first = wasmCrc32c(whole.subarray(0, split));
      expect(wasmCrc32c(whole.subarray(split), first), `split at ${split}`).toBe(expected);
      expect(crc32c(whole.subarray(split), crc32c(whole.subarray(0, split))), `split at ${split}`).toBe(expected);
      expect(jsCrc32c(whole.subarray(split), wasmCrc32c(whole.subarray(0, split))), `split at ${split}`).toBe(expected);
    }
  });

  it("reads every byte position of the 16-byte block right, whichever way the kernel reads it", () => {
    // The kernel takes some bytes of a block out of 32-bit words and loads
    // others one at a time; flipping one byte at each position of the first,
    // a middle and the last block catches a position read from the wrong place.
    const backing = filled(3 + 80, 19);
    for (const offset of [0, 3]) {
      const view = backing.subarray(offset, offset + 80);
      for (const blockStart of [0, 32, 64]) {
        for (let position = 0; position < 16; position++) {
          const at = blockStart + position;
          view[at] = view[at]! ^ 0x5a;
          expect(wasmCrc32c(view), `offset ${offset} byte ${at}`).toBe(referenceCrc32c(view));
          view[at] = view[at]! ^ 0x5a;
        }
      }
    }
  });

  it("leaves no state behind: a short input after a long one is unaffected", () => {
    const long = filled(INPUT_PIECE_BYTES, 14);
    const short = filled(100, 15);
    wasmCrc32c(long);
    expect(wasmCrc32c(short)).toBe(referenceCrc32c(short));
  });
});

/** The engine's WebAssembly object (the test's types know no DOM, so it is looked up untyped). */
const realWebAssembly = (globalThis as Record<string, unknown>).WebAssembly as Parameters<
  typeof instantiateWideUpdate
>[0];

describe("WebAssembly SIMD kernel for whole 64 KiB pieces", () => {
  const wideUpdate = instantiateWideUpdate(realWebAssembly, buildTables(16));
  if (wideUpdate === undefined) throw new Error("WebAssembly SIMD unavailable in the test environment");
  const wideCrc32c = (data: Uint8Array, previous = 0) => ~wideUpdate(~previous, data) >>> 0;

  it("agrees with the JS loops on a whole piece, at unaligned offsets, from a running crc", () => {
    const backing = filled(WIDE_PIECE_BYTES + 8, 22);
    for (const offset of [0, 1, 3, 4]) {
      const piece = backing.subarray(offset, offset + WIDE_PIECE_BYTES);
      expect(wideCrc32c(piece), `offset ${offset}`).toBe(jsCrc32c(piece));
      expect(wideCrc32c(piece, 0xdeadbeef), `offset ${offset}, running`).toBe(jsCrc32c(piece, 0xdeadbeef));
    }
  });

  it("reads the first and last bytes of every lane's chunk, and each byte of a 16-byte row, from the right place", () => {
    const piece = filled(WIDE_PIECE_BYTES, 23);
    const positions: number[] = [];
    for (let lane = 0; lane < LANES; lane++) {
      positions.push(lane * CHUNK_BYTES, lane * CHUNK_BYTES + CHUNK_BYTES - 1);
    }
    for (let column = 0; column < 16; column++) positions.push(5 * CHUNK_BYTES + 32 + column);
    for (const at of positions) {
      piece[at] = piece[at]! ^ 0xa5;
      expect(wideCrc32c(piece), `byte ${at}`).toBe(jsCrc32c(piece));
      piece[at] = piece[at]! ^ 0xa5;
    }
  });

  it("gives the known answer on zeros and on all-ones, where every lane sees the same bytes", () => {
    for (const fill of [0, 0xff]) {
      const piece = new Uint8Array(WIDE_PIECE_BYTES).fill(fill);
      expect(wideCrc32c(piece), `fill ${fill}`).toBe(referenceCrc32c(piece));
    }
  });

  it("is set up by crc32c once 1 MiB of whole pieces went through, and left out where SIMD is refused", () => {
    const data = filled((WIDE_KERNEL_AFTER_PIECES + 1) * WIDE_PIECE_BYTES + 100, 24);
    const beforeTheLast = data.subarray(0, (WIDE_KERNEL_AFTER_PIECES - 1) * WIDE_PIECE_BYTES);
    const real = realWebAssembly;
    for (const simdRefused of [false, true]) {
      let compiles = 0;
      const counting = {
        Module: function countCompiles(bytes: Uint8Array) {
          compiles++;
          if (simdRefused && compiles === 2) throw new Error("no SIMD in this test");
          return new real.Module(bytes);
        },
        Instance: real.Instance,
      };
      withWebAssembly(counting, () => {
        const fresh = createCrc32c({ wasm: true });
        expect(fresh(beforeTheLast), `SIMD refused: ${simdRefused}`).toBe(jsCrc32c(beforeTheLast));
        expect(compiles).toBe(1);
        expect(fresh(data), `SIMD refused: ${simdRefused}`).toBe(jsCrc32c(data));
        expect(compiles).toBe(2);
        expect(fresh(data)).toBe(jsCrc32c(data));
        expect(compiles).toBe(2);
      });
    }
  });
});

describe("crc32c on the boundaries between its paths", () => {
  it("agrees with the definition around the JS/WebAssembly threshold, at every alignment, with a running crc", () => {
    const backing = filled(8 + 2 * WASM_MIN_LENGTH, 20);
    for (let offset = 0; offset < 8; offset++) {
      for (const length of [WASM_MIN_LENGTH - 1, WASM_MIN_LENGTH, WASM_MIN_LENGTH + 1, 2 * WASM_MIN_LENGTH - 1]) {
        const view = backing.subarray(offset, offset + length);
        expect(crc32c(view), `offset ${offset} length ${length}`).toBe(referenceCrc32c(view));
        const head = backing.subarray(0, offset);
        const both = backing.subarray(0, offset + length);
        expect(crc32c(view, crc32c(head)), `after ${offset} bytes, length ${length}`).toBe(referenceCrc32c(both));
      }
    }
  });

  it("agrees with the JS loops on lengths around the SIMD kernel's piece, whole and split", () => {
    const backing = filled(3 * WIDE_PIECE_BYTES + 8, 25);
    for (const length of [WIDE_PIECE_BYTES - 1, WIDE_PIECE_BYTES, WIDE_PIECE_BYTES + 1, 2 * WIDE_PIECE_BYTES + 15]) {
      const view = backing.subarray(5, 5 + length);
      expect(crc32c(view), `length ${length}`).toBe(jsCrc32c(view));
      const split = 77;
      expect(crc32c(view.subarray(split), crc32c(view.subarray(0, split))), `length ${length}, split`).toBe(
        jsCrc32c(view),
      );
    }
  });

  it("agrees with the JS loops on inputs several times the WebAssembly memory's piece, at unaligned offsets", () => {
    const length = 5 * INPUT_PIECE_BYTES + 7;
    const backing = filled(length + 8, 21);
    for (const offset of [1, 5]) {
      const view = backing.subarray(offset, offset + length);
      expect(crc32c(view), `offset ${offset}`).toBe(jsCrc32c(view));
      const previous = 0x1234_5678;
      expect(crc32c(view, previous), `offset ${offset}, running`).toBe(jsCrc32c(view, previous));
    }
  });
});

/** Runs `body` with the global `WebAssembly` replaced (undefined: removed), then restores it. */
function withWebAssembly(replacement: unknown, body: () => void): void {
  const global = globalThis as Record<string, unknown>;
  const saved = Object.getOwnPropertyDescriptor(global, "WebAssembly")!;
  if (replacement === undefined) delete global.WebAssembly;
  else Object.defineProperty(global, "WebAssembly", { ...saved, value: replacement });
  try {
    body();
  } finally {
    Object.defineProperty(global, "WebAssembly", saved);
  }
}

describe("crc32c without WebAssembly", () => {
  it("falls back to the JS loops when the WebAssembly global is missing", () => {
    withWebAssembly(undefined, () => {
      expect(typeof (globalThis as Record<string, unknown>).WebAssembly).toBe("undefined");
      expect(instantiateWasmUpdate(buildTables(16))).toBeUndefined();
      const fallback = createCrc32c({ wasm: true });
      const data = filled(70_000, 16);
      expect(fallback(data)).toBe(referenceCrc32c(data));
    });
  });

  it("falls back to the JS loops when compiling the module throws", () => {
    const refusing = {
      Module: function refuse() {
        throw new Error("compiling WebAssembly is disallowed by this test");
      },
    };
    withWebAssembly(refusing, () => {
      expect(instantiateWasmUpdate(buildTables(16))).toBeUndefined();
      const fallback = createCrc32c({ wasm: true });
      const data = filled(5000, 17);
      expect(fallback(data)).toBe(referenceCrc32c(data));
      expect(fallback(data.subarray(100), fallback(data.subarray(0, 100)))).toBe(referenceCrc32c(data));
    });
  });

  it("compiles nothing for short inputs, tries once at the first long one, and does not retry after a failure", () => {
    let compileAttempts = 0;
    const counting = {
      Module: function refuse() {
        compileAttempts++;
        throw new Error("compiling WebAssembly is disallowed by this test");
      },
    };
    withWebAssembly(counting, () => {
      const fresh = createCrc32c({ wasm: true });
      const data = filled(200, 18);
      expect(fresh(data.subarray(0, 63))).toBe(referenceCrc32c(data.subarray(0, 63)));
      expect(compileAttempts).toBe(0);
      expect(fresh(data.subarray(0, 64))).toBe(referenceCrc32c(data.subarray(0, 64)));
      expect(compileAttempts).toBe(1);
      expect(fresh(data)).toBe(referenceCrc32c(data));
      expect(compileAttempts).toBe(1);
    });
  });
});
