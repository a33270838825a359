// Runs the WebAssembly kernels on inputs of any length: each piece of up to
// 64 KiB is copied into a module's memory and folded in by one call, whole
// 64 KiB pieces by the SIMD kernel where the engine has SIMD, the others by
// the scalar one.

import { buildZeroShiftTable, isLittleEndianHost } from "./table.js";
import { INPUT_ADDRESS, INPUT_PIECE_BYTES, TABLE_ROWS, kernelModuleBytes } from "./wasm-kernel.js";
import * as wide from "./wasm-wide-kernel.js";

/**
 * The SIMD kernel is written and compiled once this many whole 64 KiB pieces
 * (1 MiB) went through the scalar one: setting it up costs about 2 ms in a
 * fresh process (writing its 3.6 KB, compiling, the first slow run), which a
 * command that checks a few tables would pay for nothing.
 */
export const WIDE_KERNEL_AFTER_PIECES = 16;

/** Folds `data` into a crc register value (not inverted) and returns the new one. */
export type CrcUpdate = (crc: number, data: Uint8Array) => number;

// The few WebAssembly JS API members used here, declared locally because the
// package compiles against ES2022 alone (no DOM, no Node types).
interface WebAssemblyApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: Record<string, unknown> };
}
interface KernelExports {
  memory: { buffer: ArrayBuffer };
  update: (crc: number, length: number) => number;
}
interface WideKernelExports {
  memory: { buffer: ArrayBuffer };
  fold: () => void;
}

function instantiate<Exports>(webAssembly: WebAssemblyApi, bytes: Uint8Array): Exports | undefined {
  try {
    return new webAssembly.Instance(new webAssembly.Module(bytes)).exports as unknown as Exports;
  } catch {
    return undefined;
  }
}

/**
 * Compiles and instantiates the kernel, fills its tables from `tables` (the
 * 16 rows built by table.ts), and returns the update function, which also
 * sets up the SIMD kernel after WIDE_KERNEL_AFTER_PIECES whole pieces; undefined
 * where WebAssembly is missing or refuses the module (a Content Security
 * Policy without 'wasm-unsafe-eval', for one).
 */
export function instantiateWasmUpdate(tables: Int32Array): CrcUpdate | undefined {
  const webAssembly = (globalThis as { WebAssembly?: WebAssemblyApi }).WebAssembly;
  // WebAssembly memory is little-endian; copying the tables as Int32 elements
  // is only right on a little-endian host.
  if (webAssembly === undefined || !isLittleEndianHost()) return undefined;
  // Synchronous compilation is fine here: browsers refuse it on the main
  // thread only for larger modules (Chrome: over 4 KB), and these are under
  // 500 bytes and 3.7 KB.
  const kernel = instantiate<KernelExports>(webAssembly, kernelModuleBytes());
  if (kernel === undefined) return undefined;
  const { memory, update } = kernel;
  new Int32Array(memory.buffer, 0, TABLE_ROWS * 256).set(tables);
  const input = new Uint8Array(memory.buffer, INPUT_ADDRESS, INPUT_PIECE_BYTES);
  const updateScalar = (crc: number, piece: Uint8Array) => {
    input.set(piece);
    return update(crc, piece.length);
  };
  // Whole pieces go through the scalar kernel, counted, until the SIMD one is
  // set up; then through the SIMD one, or the scalar one where SIMD is refused.
  let wholePieces = 0;
  let updateWholePiece: CrcUpdate = (crc, piece) => {
    if (++wholePieces === WIDE_KERNEL_AFTER_PIECES) {
      updateWholePiece = instantiateWideUpdate(webAssembly, tables) ?? updateScalar;
    }
    return updateScalar(crc, piece);
  };

  return function wasmUpdate(crc: number, data: Uint8Array): number {
    const length = data.length;
    if (length < INPUT_PIECE_BYTES) return updateScalar(crc, data);
    for (let start = 0; start < length; start += INPUT_PIECE_BYTES) {
      const piece = data.subarray(start, start + INPUT_PIECE_BYTES);
      crc = piece.length === wide.WIDE_PIECE_BYTES ? updateWholePiece(crc, piece) : updateScalar(crc, piece);
    }
    return crc;
  };
}

/**
 * The SIMD kernel, for pieces of exactly WIDE_PIECE_BYTES (64 KiB); undefined
 * where the engine has no WebAssembly SIMD. Lane 0 starts from the running crc and lanes 1 to 15 from
 * zero; each lane's result is then moved over the chunks after it and the
 * results xored, which is the crc of the whole piece (the register is linear
 * in its start value and in the data).
 */
export function instantiateWideUpdate(webAssembly: WebAssemblyApi, tables: Int32Array): CrcUpdate | undefined {
  const kernel = instantiate<WideKernelExports>(webAssembly, wide.wideKernelModuleBytes());
  if (kernel === undefined) return undefined;
  const { memory, fold } = kernel;
  new Uint8Array(memory.buffer, 0, 128).set(wide.swizzleTables(tables));
  const input = new Uint8Array(memory.buffer, wide.INPUT_ADDRESS, wide.WIDE_PIECE_BYTES);
  const planes = new Uint8Array(memory.buffer, wide.PLANES_ADDRESS, 4 * wide.LANES);
  const overOneChunk = buildZeroShiftTable(tables, wide.CHUNK_BYTES);
  const lane = (i: number) => planes[i]! | (planes[16 + i]! << 8) | (planes[32 + i]! << 16) | (planes[48 + i]! << 24);

  return function wideUpdate(crc: number, piece: Uint8Array): number {
    input.set(piece);
    planes.fill(0);
    planes[0] = crc & 255;
    planes[16] = (crc >>> 8) & 255;
    planes[32] = (crc >>> 16) & 255;
    planes[48] = crc >>> 24;
    fold();
    let joined = lane(0);
    for (let i = 1; i < wide.LANES; i++) {
      joined =
        overOneChunk[joined & 255]! ^
        overOneChunk[256 + ((joined >>> 8) & 255)]! ^
        overOneChunk[512 + ((joined >>> 16) & 255)]! ^
        overOneChunk[768 + (joined >>> 24)]! ^
        lane(i);
    }
    return joined;
  };
}
