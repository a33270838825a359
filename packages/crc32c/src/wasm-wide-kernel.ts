// The WebAssembly SIMD kernel for whole 64 KiB pieces: the piece is cut into
// 16 chunks of 4 KiB, and the 16 lanes of a v128 each run the byte-at-a-time
// CRC over one chunk, all 16 in step. The caller joins the 16 results.
//
// One byte step of a CRC register c with data byte b is
//   c' = (c >>> 8) ^ T[(c ^ b) & 255]
// and T is linear, so T[x] = T[x & 0x0f] ^ T[x & 0xf0]: two lookups in
// 16-entry tables, which `i8x16.swizzle` does for 16 lanes at once, one
// byte of the 32-bit result at a time. The registers are kept as four
// vectors of bytes ("planes"): plane j holds byte j of every lane's register.
//
// The 16 chunks are read 16 bytes at a time and transposed (16 x 16 bytes),
// so that vector t holds byte t of every chunk.
//
// Exports `memory` and `fold()`, which runs the 16 lanes over the piece at
// INPUT_ADDRESS, starting from and leaving their registers in the planes at
// PLANES_ADDRESS (plane j at + 16 j, lane i at byte i).
//
// Memory layout (2 pages, fixed size):
//   [0, 128)         the swizzle tables: low-nibble tables for bytes 0..3, then high-nibble ones
//   [128, 192)       the planes
//   [1 KiB, 65 KiB)  the input piece, copied in by the caller

import { InstructionWriter, encodeModule, valueType } from "./wasm-encoding.js";

export const LANES = 16;
export const CHUNK_BYTES = 4096;
export const WIDE_PIECE_BYTES = LANES * CHUNK_BYTES;
export const PLANES_ADDRESS = 128;
export const INPUT_ADDRESS = 1024;
const MEMORY_PAGES = Math.ceil((INPUT_ADDRESS + WIDE_PIECE_BYTES) / 65536);

// Local variable indices (no parameters): the position, then v128 locals.
const POSITION = 0;
const LOW_TABLES = 1;
const HIGH_TABLES = LOW_TABLES + 4;
const PLANES = HIGH_TABLES + 4;
const NIBBLE_MASK = PLANES + 4;
const X = NIBBLE_MASK + 1;
const LOW = X + 1;
const HIGH = LOW + 1;
/** Two sets of 16 rows: the transpose reads one set and writes the other. */
const ROWS = HIGH + 1;
const V128_LOCALS = ROWS + 2 * LANES - 1;

/** Interleaves the low (or high) 8 bytes of two vectors: a0 b0 a1 b1 ... */
const INTERLEAVE_LOW = Array.from({ length: 16 }, (_, i) => (i & 1 ? 16 : 0) + (i >> 1));
const INTERLEAVE_HIGH = INTERLEAVE_LOW.map((lane) => lane + 8);

export function wideKernelModuleBytes(): Uint8Array {
  const code = new InstructionWriter();
  for (let j = 0; j < 4; j++) {
    code
      .i32Const(0)
      .v128Load(16 * j)
      .localSet(LOW_TABLES + j);
    code
      .i32Const(0)
      .v128Load(64 + 16 * j)
      .localSet(HIGH_TABLES + j);
    code
      .i32Const(0)
      .v128Load(PLANES_ADDRESS + 16 * j)
      .localSet(PLANES + j);
  }
  code.i32Const(0x0f).i8x16Splat().localSet(NIBBLE_MASK);
  code.i32Const(INPUT_ADDRESS).localSet(POSITION);
  code.loop();
  const rows = emitTranspose(code);
  for (let t = 0; t < LANES; t++) emitByteStep(code, rows + t);
  // position += 16; continue while position < INPUT_ADDRESS + CHUNK_BYTES
  code.localGet(POSITION).i32Const(16).i32Add().localTee(POSITION);
  code
    .i32Const(INPUT_ADDRESS + CHUNK_BYTES)
    .i32LtU()
    .brIf(0);
  code.end();
  for (let j = 0; j < 4; j++)
    code
      .i32Const(0)
      .localGet(PLANES + j)
      .v128Store(PLANES_ADDRESS + 16 * j);
  return encodeModule(MEMORY_PAGES, {
    exportName: "fold",
    params: [],
    results: [],
    locals: [valueType.i32, ...new Array<number>(V128_LOCALS).fill(valueType.v128)],
    body: code,
  });
}

/**
 * Loads 16 bytes of each chunk and transposes them: four rounds, each
 * interleaving row r with row r + 8 into rows 2r and 2r + 1. Returns the
 * first local of the rows that hold the result, row t being byte t of every
 * chunk.
 */
function emitTranspose(code: InstructionWriter): number {
  let from = ROWS;
  let to = ROWS + LANES;
  for (let r = 0; r < LANES; r++)
    code
      .localGet(POSITION)
      .v128Load(r * CHUNK_BYTES)
      .localSet(from + r);
  for (let round = 0; round < 4; round++) {
    for (let r = 0; r < LANES / 2; r++) {
      code
        .localGet(from + r)
        .localGet(from + r + 8)
        .i8x16Shuffle(INTERLEAVE_LOW)
        .localSet(to + 2 * r);
      code
        .localGet(from + r)
        .localGet(from + r + 8)
        .i8x16Shuffle(INTERLEAVE_HIGH)
        .localSet(to + 2 * r + 1);
    }
    [from, to] = [to, from];
  }
  return from;
}

/** One byte step in all 16 lanes, with the data bytes in local `data`. */
function emitByteStep(code: InstructionWriter, data: number): void {
  code.localGet(data).localGet(PLANES).v128Xor().localTee(X);
  code.localGet(NIBBLE_MASK).v128And().localSet(LOW);
  code.localGet(X).i32Const(4).i16x8ShrU().localGet(NIBBLE_MASK).v128And().localSet(HIGH);
  // plane j' = plane j+1 ^ T[x] byte j, plane 3' = T[x] byte 3; computed
  // from plane 0 upwards, so each plane is read before it is replaced.
  for (let j = 0; j < 4; j++) {
    code
      .localGet(LOW_TABLES + j)
      .localGet(LOW)
      .i8x16Swizzle();
    code
      .localGet(HIGH_TABLES + j)
      .localGet(HIGH)
      .i8x16Swizzle()
      .v128Xor();
    if (j < 3) code.localGet(PLANES + j + 1).v128Xor();
    code.localSet(PLANES + j);
  }
}

/** The swizzle tables for memory [0, 128): byte j of T[n] and of T[n << 4], n = 0..15. */
export function swizzleTables(byteTable: Int32Array): Uint8Array {
  const bytes = new Uint8Array(128);
  for (let j = 0; j < 4; j++) {
    for (let n = 0; n < 16; n++) {
      bytes[16 * j + n] = (byteTable[n]! >>> (8 * j)) & 255;
      bytes[64 + 16 * j + n] = (byteTable[n << 4]! >>> (8 * j)) & 255;
    }
  }
  return bytes;
}
