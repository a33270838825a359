// The discard workload's steps and what a discard with partial: "zero" does
// to the parts of blocks it cannot free (they read as zeros afterwards, in a
// differencing disk too). Whole blocks are steps.ts's wholeBlocks.
import type { Random } from "./random.js";
import type { Step } from "./steps.js";
import { wholeBlocks } from "./steps.js";

/**
 * The parts of [offset, offset + length) (cut at the disk's `size`) outside
 * the whole blocks: what a discard with partial: "zero" writes as zeros on a
 * dynamic or differencing disk.
 */
export function partialParts(offset: number, length: number, blockSize: number, size: number): Array<[number, number]> {
  const end = Math.min(offset + length, size);
  const parts: Array<[number, number]> = [];
  let at = offset;
  for (const [start, stop] of wholeBlocks(offset, length, blockSize, size)) {
    if (start > at) parts.push([at, start]);
    at = stop;
  }
  if (end > at) parts.push([at, end]);
  return parts;
}

/**
 * Discards of whole blocks, of parts of blocks and of both, zeroing their
 * parts or keeping them, between writes and flushes on a disk of `size`.
 */
export function randomDiscardSteps(random: Random, size: number, blockSize: number, count: number): Step[] {
  const steps: Step[] = [];
  for (let i = 0; i < count; i++) {
    const roll = random(10);
    if (roll < 2) {
      steps.push({ kind: "flush" });
    } else if (roll < 7) {
      const offset = random(2) ? random(size / blockSize) * blockSize : random(size);
      const length = Math.min(size - offset, random(3) ? random(3 * blockSize) : blockSize);
      steps.push({ kind: "discard", offset, length, ...(random(3) ? { partial: "zero" as const } : {}) });
    } else {
      const offset = random(size - 1);
      const length = Math.min(size - offset, 1 + random(blockSize + 4096));
      steps.push({ kind: "write", offset, length, value: 1 + ((0x30 + i) % 250) });
    }
  }
  return steps;
}
