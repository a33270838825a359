// The operations a crash workload performs on the image under test, and what
// each one does to the virtual disk. A step that ends with a flush of every
// write before it (flush, resize, compact, merge, close) is a barrier: once it
// has completed, everything before it must survive any power cut. A
// metadata edit (metadata-steps.ts) flushes everything before it too.
import { type MetadataEdit, describeMetadataEdit } from "./metadata-edit.js";

export type Step =
  | { kind: "write"; offset: number; length: number; value: number }
  | { kind: "zero"; offset: number; length: number }
  | { kind: "discard"; offset: number; length: number; partial?: "zero" }
  | { kind: "flush" }
  | { kind: "resize"; size: number }
  | { kind: "compact" }
  | { kind: "merge" }
  | { kind: "metadata"; edit: MetadataEdit }
  | { kind: "close" };

const BARRIERS: ReadonlySet<Step["kind"]> = new Set(["flush", "resize", "compact", "merge", "metadata", "close"]);

export function isBarrier(step: Step): boolean {
  return BARRIERS.has(step.kind);
}

export function describeStep(step: Step): string {
  switch (step.kind) {
    case "write":
      return `write 0x${step.value.toString(16)} x ${step.length} at ${step.offset}`;
    case "zero":
      return `${step.kind} ${step.length} at ${step.offset}`;
    case "discard":
      return `discard ${step.length} at ${step.offset}${step.partial === "zero" ? ", parts zeroed" : ""}`;
    case "resize":
      return `resize to ${step.size}`;
    case "metadata":
      return describeMetadataEdit(step.edit);
    default:
      return step.kind;
  }
}

/**
 * The whole blocks inside [offset, offset + length) of a disk of `size`
 * bytes, as [start, end) pairs: what a discard changes (the last block may be
 * cut short by the end of the disk).
 */
export function wholeBlocks(offset: number, length: number, blockSize: number, size: number): Array<[number, number]> {
  const end = Math.min(offset + length, size);
  const blocks: Array<[number, number]> = [];
  for (let start = Math.ceil(offset / blockSize) * blockSize; start < end; start += blockSize) {
    const blockEnd = Math.min(start + blockSize, size);
    if (blockEnd <= end) blocks.push([start, blockEnd]);
  }
  return blocks;
}
