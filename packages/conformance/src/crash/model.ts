// The model of the virtual disk a crash workload writes: its contents after
// any prefix of the steps, and the rule a disk found after a power cut must
// follow. Every byte holds its value at the last completed barrier (flush,
// resize, compact, merge, close), or a value one of the later steps (the one
// cut short included) wrote there. The size is the size at the last barrier or
// after one of those later steps.
//
// Disks may be larger than memory allows (a resize to 130 GiB moves the BAT),
// so the model keeps only the first `window` bytes; steps stay inside it, and
// everything past it reads as zeros.
import { partialParts } from "./discard-steps.js";
import { type Step, isBarrier, wholeBlocks } from "./steps.js";

export interface ModelContext {
  /** What the disk reads as before the first step (its first `window` bytes). */
  initial: Uint8Array;
  initialSize: number;
  blockSize: number;
  /** A differencing disk's parent contents: where a discarded block reads from again. */
  parent: Uint8Array | null;
  /** For a merge: what the child read as, and so what the parent must read as after it. */
  merged: Uint8Array | null;
  window: number;
}

/**
 * Values a step may have left: in [start, end), `value`, or when `from` is
 * set, from[i]. Plain data rather than closures: the check runs per byte.
 */
interface Candidate {
  start: number;
  end: number;
  value: number;
  from: Uint8Array | null;
}

export class DiskModel {
  /** sizes[k]: the disk's size after steps[0..k). */
  readonly sizes: number[];
  private cached: { count: number; bytes: Uint8Array };

  constructor(
    readonly steps: readonly Step[],
    readonly context: ModelContext,
  ) {
    this.sizes = [context.initialSize];
    for (const step of steps) this.sizes.push(step.kind === "resize" ? step.size : this.sizes[this.sizes.length - 1]!);
    this.cached = { count: 0, bytes: context.initial.slice() };
  }

  /** The index of the last barrier step among steps[0..lastDone]; -1 when there is none. */
  lastBarrier(lastDone: number): number {
    for (let k = Math.min(lastDone, this.steps.length - 1); k >= 0; k--) if (isBarrier(this.steps[k]!)) return k;
    return -1;
  }

  /** The first `window` bytes after steps[0..count). Fast for counts that only grow. */
  contentsAfter(count: number): Uint8Array {
    if (count < this.cached.count) this.cached = { count: 0, bytes: this.context.initial.slice() };
    let bytes = this.cached.bytes;
    for (let k = this.cached.count; k < count; k++) bytes = this.apply(bytes, k);
    this.cached = { count, bytes };
    return bytes;
  }

  /**
   * Why `actual` (the first `window` bytes of a disk of `actualSize` bytes) is
   * not a disk this workload may leave when the power is cut after steps
   * [0..lastDone] completed; null when it is one.
   */
  explainMismatch(actual: Uint8Array, actualSize: number, lastDone: number): string | null {
    const flushedCount = this.lastBarrier(lastDone) + 1;
    const pendingEnd = Math.min(this.steps.length, lastDone + 2);
    const sizes = this.sizes.slice(flushedCount, pendingEnd + 1);
    if (!sizes.includes(actualSize))
      return `virtual size is ${actualSize}, expected one of ${[...new Set(sizes)].join(", ")}`;
    if (actual.length !== Math.min(actualSize, this.context.window))
      return `compared ${actual.length} bytes, expected ${Math.min(actualSize, this.context.window)}`;
    const flushed = this.contentsAfter(flushedCount);
    const candidates: Candidate[] = [];
    for (let k = flushedCount; k < pendingEnd; k++) candidates.push(...this.candidates(k));
    const i = firstUnexplained(actual, flushed, candidates);
    if (i < 0) return null;
    const expected = i < flushed.length ? String(flushed[i]) : "past the end of the disk";
    const barrier =
      flushedCount === 0 ? "before the first step" : `at the last completed barrier (step ${flushedCount - 1})`;
    const since =
      pendingEnd > flushedCount
        ? `none of steps ${flushedCount}..${pendingEnd - 1} wrote ${actual[i]} there`
        : "no step ran after it";
    return `byte ${i} is ${actual[i]}; ${barrier} it was ${expected}, and ${since}`;
  }

  private apply(bytes: Uint8Array, k: number): Uint8Array {
    const step = this.steps[k]!;
    const { blockSize, parent, merged, window } = this.context;
    switch (step.kind) {
      case "write":
        bytes.fill(step.value, step.offset, step.offset + step.length);
        return bytes;
      case "zero":
        bytes.fill(0, step.offset, step.offset + step.length);
        return bytes;
      case "discard":
        for (const [start, end] of wholeBlocks(step.offset, step.length, blockSize, this.sizes[k]!)) {
          if (parent) bytes.set(parent.subarray(start, end), start);
          else bytes.fill(0, start, end);
        }
        if (step.partial === "zero") {
          for (const [start, end] of partialParts(step.offset, step.length, blockSize, this.sizes[k]!))
            bytes.fill(0, start, end);
        }
        return bytes;
      case "resize": {
        const resized = new Uint8Array(Math.min(step.size, window));
        resized.set(bytes.subarray(0, resized.length));
        return resized;
      }
      case "merge":
        return merged!.slice();
      default:
        return bytes;
    }
  }

  /** The ranges steps[k] may have changed, with the values it may have left there. */
  private candidates(k: number): Candidate[] {
    const step = this.steps[k]!;
    const { blockSize, parent, merged } = this.context;
    const constant = (start: number, end: number, value: number): Candidate => ({ start, end, value, from: null });
    switch (step.kind) {
      case "write":
        return [constant(step.offset, step.offset + step.length, step.value)];
      case "zero":
        return [constant(step.offset, step.offset + step.length, 0)];
      case "discard": {
        const size = this.sizes[k]!;
        const zeroed = step.partial === "zero" ? partialParts(step.offset, step.length, blockSize, size) : [];
        return [
          ...wholeBlocks(step.offset, step.length, blockSize, size).map(([start, end]) => ({
            start,
            end,
            value: 0,
            from: parent,
          })),
          ...zeroed.map(([start, end]) => constant(start, end, 0)),
        ];
      }
      case "resize":
        // Growing adds zeros; shrinking zeros the part cut off before it goes.
        return [constant(Math.min(this.sizes[k]!, step.size), Infinity, 0)];
      case "merge":
        return [{ start: 0, end: Infinity, value: 0, from: merged }];
      default:
        return [];
    }
  }
}

/** The first byte that is neither its flushed value nor a candidate's; -1 when there is none. */
function firstUnexplained(actual: Uint8Array, flushed: Uint8Array, candidates: readonly Candidate[]): number {
  const PAGE = 4096;
  for (let page = 0; page < actual.length; page += PAGE) {
    const end = Math.min(actual.length, page + PAGE);
    if (end <= flushed.length && sameBytes(actual, flushed, page, end)) continue;
    const near = candidates.filter((c) => c.start < end && c.end > page);
    for (let i = page; i < end; i++) {
      const value = actual[i]!;
      if (i < flushed.length && value === flushed[i]) continue;
      if (!explains(near, i, value)) return i;
    }
  }
  return -1;
}

function explains(candidates: readonly Candidate[], i: number, value: number): boolean {
  for (const c of candidates) {
    if (i >= c.start && i < c.end && (c.from === null ? c.value : c.from[i]) === value) return true;
  }
  return false;
}

function sameBytes(a: Uint8Array, b: Uint8Array, start: number, end: number): boolean {
  return Buffer.compare(a.subarray(start, end), b.subarray(start, end)) === 0;
}
