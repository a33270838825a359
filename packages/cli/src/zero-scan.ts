// Finding zeros in what is copied: aligned grains of zeros are never written,
// so a raw output keeps holes and a VHDX output leaves blocks unallocated.
import { Buffer } from "node:buffer";

/** Zero detection: each aligned stretch of this many zero bytes is skipped (a hole, or a block left unallocated). */
export const ZERO_GRAIN = 64 * 1024;

const ZERO_GRAIN_BYTES = new Uint8Array(ZERO_GRAIN);

/** Whether every byte of `bytes` is zero (memcmp against zeros, a grain at a time). */
export function isAllZero(bytes: Uint8Array): boolean {
  for (let at = 0; at < bytes.length; at += ZERO_GRAIN) {
    const count = Math.min(ZERO_GRAIN, bytes.length - at);
    if (Buffer.compare(bytes.subarray(at, at + count), ZERO_GRAIN_BYTES.subarray(0, count)) !== 0) return false;
  }
  return true;
}

/**
 * The stretches of `bytes` that are not made of whole zero grains, as a flat
 * list of start and end offsets: [start, end, start, end, ...].
 */
export function nonZeroRuns(bytes: Uint8Array): number[] {
  const runs: number[] = [];
  let start = -1;
  for (let at = 0; at < bytes.length; at += ZERO_GRAIN) {
    const end = Math.min(at + ZERO_GRAIN, bytes.length);
    const zero = Buffer.compare(bytes.subarray(at, end), ZERO_GRAIN_BYTES.subarray(0, end - at)) === 0;
    if (!zero && start < 0) start = at;
    if (zero && start >= 0) {
      runs.push(start, at);
      start = -1;
    }
  }
  if (start >= 0) runs.push(start, bytes.length);
  return runs;
}
