// Seeded write workloads: plain writes, zero writes and discards, at random
// sector-aligned and unaligned places, across block boundaries, the 4 GiB
// chunk boundary and the end of the disk. The same list drives qemu-io and
// our writer; `opBytes` says what a write puts where.
import { Prng } from "../random.js";
import { CHUNK_512 } from "./corpus-image.js";

export type Op =
  | { kind: "write"; offset: number; length: number; pattern: number }
  | { kind: "zero"; offset: number; length: number }
  | { kind: "discard"; offset: number; length: number };

export interface WorkloadOptions {
  seed: number;
  size: number;
  blockSize: number;
  sectorSize: number;
  /** Random writes (default 10). */
  writes?: number;
  zeroes?: boolean;
  discards?: boolean;
  /** Byte-unaligned offsets and lengths (qemu-io and our writer do the read-modify-write). */
  unaligned?: boolean;
  /** Only these places get random writes (else the whole disk): keeps a large sparse disk sparse. */
  around?: number[];
}

/** Numbers in [0, 1) from the suite's seeded generator. */
function rng(seed: number): () => number {
  const prng = new Prng(seed);
  return () => prng.fraction();
}

export function workload(options: WorkloadOptions): Op[] {
  const { size, blockSize, sectorSize } = options;
  const random = rng(options.seed);
  const between = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
  const ops: Op[] = [];
  let pattern = 0;
  const add = (kind: Op["kind"], offset: number, length: number) => {
    const start = Math.max(0, Math.min(offset, size - 1));
    const end = Math.min(size, start + Math.max(1, length));
    if (kind !== "write") {
      ops.push({ kind, offset: start, length: end - start });
      return;
    }
    pattern = (pattern % 254) + 1;
    ops.push({ kind, offset: start, length: end - start, pattern });
  };
  const sectorAt = (place: number) => Math.floor(place / sectorSize) * sectorSize;
  const randomPlace = () => {
    const around = options.around;
    if (around === undefined || around.length === 0) return between(0, size / sectorSize - 1) * sectorSize;
    return sectorAt(
      Math.max(0, around[between(0, around.length - 1)]! + between(-2, 2) * blockSize + between(0, blockSize)),
    );
  };
  const maxLength = Math.min(3 * blockSize, 2 * 1024 * 1024);

  for (let i = 0; i < (options.writes ?? 10); i++)
    add("write", randomPlace(), between(1, maxLength / sectorSize) * sectorSize);
  // Across block boundaries, the chunk boundary, the first and the last sectors.
  const blocks = Math.ceil(size / blockSize);
  for (let i = 0; i < Math.min(3, blocks - 1); i++) {
    const boundary = (options.around ? Math.ceil(randomPlace() / blockSize) : between(1, blocks - 1)) * blockSize;
    add("write", boundary - between(1, 16) * sectorSize, between(2, 40) * sectorSize);
  }
  if (size > CHUNK_512) add("write", CHUNK_512 - 3 * sectorSize, 11 * sectorSize);
  add("write", 0, between(1, 8) * sectorSize);
  add("write", size - 3 * sectorSize, 3 * sectorSize);
  if (options.unaligned) {
    for (let i = 0; i < 3; i++) add("write", randomPlace() + between(1, sectorSize - 1), between(1, 70_000) | 1);
  }
  const written = ops.filter((op) => op.kind === "write");
  const pick = () => written[between(0, written.length - 1)]!;
  if (options.zeroes) {
    add("zero", Math.floor(pick().offset / blockSize) * blockSize, blockSize);
    add("zero", sectorAt(pick().offset + between(0, 8) * sectorSize), between(1, 32) * sectorSize);
    if (options.unaligned) add("zero", pick().offset + 333, 5000);
  }
  if (options.discards) {
    const block = Math.floor(pick().offset / blockSize) * blockSize;
    add("discard", block, blockSize);
    add("discard", sectorAt(pick().offset), between(1, 16) * sectorSize);
  }
  // Overwrite parts of earlier writes.
  for (let i = 0; i < 3; i++)
    add("write", sectorAt(pick().offset + between(0, 16) * sectorSize), between(1, 64) * sectorSize);
  return ops;
}

/** The features a list of ops exercises. */
export function opFeatures(ops: readonly Op[]): string[] {
  const features: string[] = [];
  if (ops.some((op) => op.kind === "zero")) features.push("zero-writes");
  if (ops.some((op) => op.kind === "discard")) features.push("discard");
  if (ops.some((op) => op.offset % 512 !== 0 || op.length % 512 !== 0)) features.push("unaligned-writes");
  return features;
}

/** The qemu-io command for an op (qemu-io fills a write with one byte value). */
export function qemuIoCommand(op: Op): string {
  switch (op.kind) {
    case "write":
      return `write -P 0x${op.pattern.toString(16).padStart(2, "0")} ${op.offset} ${op.length}`;
    case "zero":
      return `write -z ${op.offset} ${op.length}`;
    case "discard":
      return `discard ${op.offset} ${op.length}`;
  }
}

/**
 * The bytes a write of `pattern` puts at virtual [offset, offset + length).
 * "fill" is one value (what qemu-io writes); "ramp" depends on the virtual
 * offset too, so misplaced data cannot read back as right.
 */
export function opBytes(pattern: number, offset: number, length: number, style: "fill" | "ramp"): Uint8Array {
  const bytes = new Uint8Array(length);
  if (style === "fill") return bytes.fill(pattern);
  for (let i = 0; i < length; i++) {
    const at = offset + i;
    bytes[i] = (pattern + (at % 251) + (Math.floor(at / 4093) % 256)) & 0xff;
  }
  return bytes;
}

/** The virtual ranges the ops touch, widened to whole blocks, merged. */
export function touchedBlocks(ops: readonly Op[], blockSize: number, size: number): Array<[number, number]> {
  return mergeRanges(
    ops.map((op) => {
      const start = Math.floor(op.offset / blockSize) * blockSize;
      return [start, Math.min(size, Math.ceil((op.offset + op.length) / blockSize) * blockSize) - start];
    }),
  );
}

/** Ranges [offset, length] sorted and merged where they overlap or touch. */
export function mergeRanges(ranges: ReadonlyArray<readonly [number, number]>): Array<[number, number]> {
  const merged: Array<[number, number]> = [];
  for (const [start, length] of [...ranges].sort((a, b) => a[0] - b[0])) {
    const last = merged[merged.length - 1];
    if (last && start <= last[0] + last[1]) last[1] = Math.max(last[1], start + length - last[0]);
    else merged.push([start, length]);
  }
  return merged;
}
