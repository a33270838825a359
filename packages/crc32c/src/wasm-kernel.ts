// The WebAssembly CRC-32C kernel: slicing-by-16 over the 16 lookup tables
// kept in the module's own memory, emitted instruction by instruction.
//
// Exports `memory` and `update(crc, length): crc`, which folds `length` bytes
// at INPUT_ADDRESS into `crc` (the register value, not inverted).
//
// Memory layout (2 pages, fixed size):
//   [0, 16 KiB)           tables, row r at r * 1024, as in table.ts
//   [16 KiB, 16 + 64 KiB) the input piece, copied in by the caller

import { InstructionWriter, encodeModule, valueType } from "./wasm-encoding.js";

export const TABLE_ROWS = 16;
const TABLE_ROW_BYTES = 256 * 4;
export const INPUT_ADDRESS = TABLE_ROWS * TABLE_ROW_BYTES;
export const INPUT_PIECE_BYTES = 64 * 1024;
const MEMORY_PAGES = Math.ceil((INPUT_ADDRESS + INPUT_PIECE_BYTES) / 65536);
const BLOCK_BYTES = 16;

// Local variable indices: the two parameters, then the function's own locals.
const CRC = 0;
const LENGTH = 1;
const POSITION = 2;
const END = 3;
const BLOCKS_END = 4;
/** WORDS + k holds bytes 4k..4k+3 of the current 16-byte block. */
const WORDS = 5;
/** The locals after the two parameters: position, end, blocksEnd, the four words. */
const LOCAL_COUNT = WORDS + 4 - 2;

export function kernelModuleBytes(): Uint8Array {
  const code = new InstructionWriter();
  emitSetUp(code);
  emitBlockLoop(code);
  emitByteLoop(code);
  code.localGet(CRC);
  const i32 = valueType.i32;
  return encodeModule(MEMORY_PAGES, {
    exportName: "update",
    params: [i32, i32],
    results: [i32],
    locals: new Array<number>(LOCAL_COUNT).fill(i32),
    body: code,
  });
}

function emitSetUp(code: InstructionWriter): void {
  // position = INPUT_ADDRESS
  code.i32Const(INPUT_ADDRESS).localSet(POSITION);
  // end = INPUT_ADDRESS + length
  code.i32Const(INPUT_ADDRESS).localGet(LENGTH).i32Add().localSet(END);
  // blocksEnd = INPUT_ADDRESS + (length & -16)
  code.i32Const(INPUT_ADDRESS).localGet(LENGTH).i32Const(-BLOCK_BYTES).i32And().i32Add().localSet(BLOCKS_END);
}

/** `while (position < limit) { body; position += step }`, tested before the first pass and after each. */
function emitLoopWhileBelow(code: InstructionWriter, limit: number, step: number, emitBody: () => void): void {
  code.block();
  code.localGet(POSITION).localGet(limit).i32GeU().brIf(0); // nothing to do: leave the block
  code.loop();
  emitBody();
  code.localGet(POSITION).i32Const(step).i32Add().localTee(POSITION);
  code.localGet(limit).i32LtU().brIf(0); // back to the top of the loop
  code.end();
  code.end();
}

function emitBlockLoop(code: InstructionWriter): void {
  emitLoopWhileBelow(code, BLOCKS_END, BLOCK_BYTES, () => {
    // words[0] = crc ^ load(position); words[k] = load(position + 4k)
    code.localGet(POSITION).i32Load(0).localGet(CRC).i32Xor().localSet(WORDS);
    for (let k = 1; k < 4; k++)
      code
        .localGet(POSITION)
        .i32Load(4 * k)
        .localSet(WORDS + k);
    // Only the first word depends on the previous block's crc, so its four
    // lookups are combined last and in pairs: the chain from one crc to the
    // next stays short, and the twelve other lookups overlap with it. With
    // the lookups in byte order this loop ran at about half the speed.
    emitLookup(code, 4);
    for (let byte = 5; byte < 16; byte++) {
      emitLookup(code, byte);
      code.i32Xor();
    }
    emitLookup(code, 0);
    emitLookup(code, 1);
    code.i32Xor();
    emitLookup(code, 2);
    emitLookup(code, 3);
    code.i32Xor().i32Xor();
    code.i32Xor().localSet(CRC);
  });
}

/**
 * Pushes tables[15 - byte][value of that byte of the block]. The load's
 * constant offset selects the table row, so the address is just the byte
 * value times 4.
 *
 * Bytes 1 and 2 of the three words that do not hold the crc are read from
 * memory one at a time (a byte load and a shift), the others are cut out of
 * their word (a shift and a mask). Cutting out a middle byte costs a register
 * copy besides, as the word is still needed; the byte loads save those copies
 * and spread the work between the load and arithmetic units: 82 instead of
 * 88 instructions per block as V8 compiles it, 4-6% faster from 4 KiB up,
 * while loading every byte of those words was slower (too many loads).
 */
function emitLookup(code: InstructionWriter, byte: number): void {
  const rowOffset = (TABLE_ROWS - 1 - byte) * TABLE_ROW_BYTES;
  const byteInWord = byte & 3;
  if (byte >= 4 && (byteInWord === 1 || byteInWord === 2)) {
    code.localGet(POSITION).i32Load8U(byte).i32Const(2).i32Shl().i32Load(rowOffset);
    return;
  }
  const shift = 8 * byteInWord;
  code.localGet(WORDS + (byte >> 2));
  if (shift === 0) code.i32Const(2).i32Shl();
  else code.i32Const(shift - 2).i32ShrU();
  code.i32Const(0x3fc).i32And();
  code.i32Load(rowOffset);
}

/** The last 0..15 bytes: crc = tables[0][(crc ^ byte) & 255] ^ (crc >>> 8). */
function emitByteLoop(code: InstructionWriter): void {
  emitLoopWhileBelow(code, END, 1, () => {
    code.localGet(CRC).localGet(POSITION).i32Load8U(0).i32Xor();
    code.i32Const(0xff).i32And().i32Const(2).i32Shl().i32Load(0);
    code.localGet(CRC).i32Const(8).i32ShrU().i32Xor();
    code.localSet(CRC);
  });
}
