// Runs the WebAssembly kernel on inputs of any length: each piece of up to
// 64 KiB is copied into the module's memory and folded in by one call.

import { isLittleEndianHost } from "./table.js";
import { INPUT_ADDRESS, INPUT_PIECE_BYTES, TABLE_ROWS, kernelModuleBytes } from "./wasm-kernel.js";

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

/**
 * Compiles and instantiates the kernel, fills its tables from `tables` (the
 * 16 rows built by table.ts), and returns the update function; undefined
 * where WebAssembly is missing or refuses the module (a Content Security
 * Policy without 'wasm-unsafe-eval', for one).
 */
export function instantiateWasmUpdate(tables: Int32Array): CrcUpdate | undefined {
  const webAssembly = (globalThis as { WebAssembly?: WebAssemblyApi }).WebAssembly;
  // WebAssembly memory is little-endian; copying the tables as Int32 elements
  // is only right on a little-endian host.
  if (webAssembly === undefined || !isLittleEndianHost()) return undefined;
  let kernel: KernelExports;
  // Synchronous compilation is fine here: browsers refuse it on the main
  // thread only for larger modules (Chrome: over 4 KB), and this one is
  // under 500 bytes.
  try {
    const module = new webAssembly.Module(kernelModuleBytes());
    kernel = new webAssembly.Instance(module).exports as unknown as KernelExports;
  } catch {
    return undefined;
  }
  const { memory, update } = kernel;
  new Int32Array(memory.buffer, 0, TABLE_ROWS * 256).set(tables);
  const input = new Uint8Array(memory.buffer, INPUT_ADDRESS, INPUT_PIECE_BYTES);

  return function wasmUpdate(crc: number, data: Uint8Array): number {
    const length = data.length;
    if (length <= INPUT_PIECE_BYTES) {
      input.set(data);
      return update(crc, length);
    }
    for (let start = 0; start < length; start += INPUT_PIECE_BYTES) {
      const piece = data.subarray(start, start + INPUT_PIECE_BYTES);
      input.set(piece);
      crc = update(crc, piece.length);
    }
    return crc;
  };
}
