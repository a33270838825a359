import { buildTables, isLittleEndianHost } from "./table.js";
import { type CrcUpdate, instantiateWasmUpdate } from "./wasm-crc32c.js";

/** Below this length the setup of the word loop costs more than it saves. */
const WORD_LOOP_MIN_LENGTH = 256;

/**
 * From this length on the WebAssembly kernel, copy and call included, beats
 * the JS loops: measured 1.5x slower at 16 bytes, even from 48 to 63, 1.2x
 * faster at 64 and 1.8x at 128.
 */
export const WASM_MIN_LENGTH = 64;

/**
 * CRC-32C (Castagnoli) of `data`, as an unsigned 32-bit number.
 *
 * Pass the result of an earlier call as `previous` to continue a running
 * checksum: `crc32c(b, crc32c(a))` equals `crc32c(a ++ b)`.
 */
export const crc32c: (data: Uint8Array, previous?: number) => number = /* @__PURE__ */ createCrc32c({ wasm: true });

/**
 * Builds a crc32c function. With `wasm: false` it never leaves the JS loops,
 * which tests use as the reference for the WebAssembly path; with `wasm: true`
 * the kernel is compiled on the first call long enough to use it, and the JS
 * loops remain the fallback where WebAssembly is unavailable.
 */
export function createCrc32c(options: { wasm: boolean }): (data: Uint8Array, previous?: number) => number {
  // The table lives in a function-scope `const` captured by the loops, not in
  // a module-level one: the bundler turns top-level `const` into `var`, and V8
  // then reloads the table on every lookup instead of folding its address in,
  // which measured 15% slower.
  const t = buildTables(16);
  const wordsAreLittleEndian = isLittleEndianHost();
  /** undefined until the first long input; null once WebAssembly turned out unusable or unwanted. */
  let wasmUpdate: CrcUpdate | null | undefined = options.wasm ? undefined : null;

  /** Slicing-by-8 reading single bytes: any alignment, no allocation. */
  function updateBytes(crc: number, data: Uint8Array): number {
    const n = data.length;
    const end8 = n - (n & 7);
    let i = 0;
    for (; i < end8; i += 8) {
      const a = crc ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24));
      crc =
        t[768 + data[i + 4]!]! ^
        t[512 + data[i + 5]!]! ^
        t[256 + data[i + 6]!]! ^
        t[data[i + 7]!]! ^
        (t[1792 + (a & 255)]! ^ t[1536 + ((a >>> 8) & 255)]! ^ (t[1280 + ((a >>> 16) & 255)]! ^ t[1024 + (a >>> 24)]!));
    }
    for (; i < n; i++) crc = t[(crc ^ data[i]!) & 255]! ^ (crc >>> 8);
    return crc;
  }

  /**
   * Slicing-by-16 over aligned 32-bit words read through an Int32Array view
   * of the caller's buffer (a view, not a copy); the unaligned head and the
   * short tail go a byte at a time.
   */
  function updateByWords(crc: number, data: Uint8Array): number {
    const n = data.length;
    let i = 0;
    while (((data.byteOffset + i) & 3) !== 0) {
      crc = t[(crc ^ data[i]!) & 255]! ^ (crc >>> 8);
      i++;
    }
    const wordCount = ((n - i) >>> 4) << 2;
    const words = new Int32Array(data.buffer, data.byteOffset + i, wordCount);
    for (let j = 0; j < wordCount; j += 4) {
      const a = crc ^ words[j]!;
      const b = words[j + 1]!;
      const c = words[j + 2]!;
      const d = words[j + 3]!;
      // The lookups of `a`, the only word that depends on the previous crc,
      // come last and in pairs, which keeps the chain from one crc to the
      // next short (xor chains are evaluated left to right as written); in
      // the order a, b, c, d this loop measured 15% slower.
      crc =
        t[2816 + (b & 255)]! ^
        t[2560 + ((b >>> 8) & 255)]! ^
        t[2304 + ((b >>> 16) & 255)]! ^
        t[2048 + (b >>> 24)]! ^
        t[1792 + (c & 255)]! ^
        t[1536 + ((c >>> 8) & 255)]! ^
        t[1280 + ((c >>> 16) & 255)]! ^
        t[1024 + (c >>> 24)]! ^
        t[768 + (d & 255)]! ^
        t[512 + ((d >>> 8) & 255)]! ^
        t[256 + ((d >>> 16) & 255)]! ^
        t[d >>> 24]! ^
        (t[3840 + (a & 255)]! ^ t[3584 + ((a >>> 8) & 255)]! ^ (t[3328 + ((a >>> 16) & 255)]! ^ t[3072 + (a >>> 24)]!));
    }
    for (i += wordCount * 4; i < n; i++) crc = t[(crc ^ data[i]!) & 255]! ^ (crc >>> 8);
    return crc;
  }

  function updateInJs(crc: number, data: Uint8Array): number {
    return data.length >= WORD_LOOP_MIN_LENGTH && wordsAreLittleEndian
      ? updateByWords(crc, data)
      : updateBytes(crc, data);
  }

  return function crc32c(data: Uint8Array, previous = 0): number {
    if (!(data instanceof Uint8Array)) {
      throw new TypeError("crc32c: data must be a Uint8Array");
    }
    const crc = ~previous;
    if (data.length >= WASM_MIN_LENGTH && wasmUpdate !== null) {
      wasmUpdate ??= instantiateWasmUpdate(t) ?? null;
      if (wasmUpdate !== null) return ~wasmUpdate(crc, data) >>> 0;
    }
    return ~updateInJs(crc, data) >>> 0;
  };
}
