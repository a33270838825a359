// Raw files of whole virtual disks, kept sparse: only ranges that are not all
// zeros are written, the rest is a hole made by truncating to the disk's size.
import { type FileHandle, copyFile, open } from "node:fs/promises";
import { type Op, opBytes } from "./workload.js";

const CHUNK = 16 * 1024 * 1024;

/** Writes a raw file of `size` bytes whose [offset, offset + length) is `produce(offset, length)`. */
export async function writeSparseRaw(
  path: string,
  size: number,
  produce: (offset: number, length: number) => Uint8Array,
): Promise<void> {
  const handle = await open(path, "w");
  try {
    for (let offset = 0; offset < size; offset += CHUNK) {
      const bytes = produce(offset, Math.min(CHUNK, size - offset));
      if (!isAllZero(bytes)) await writeAll(handle, bytes, offset);
    }
    await handle.truncate(size);
  } finally {
    await handle.close();
  }
}

/** A raw file of `size` zeros, or a copy of `base` (a parent's model). */
export async function startModel(path: string, size: number, base?: string): Promise<void> {
  if (base !== undefined) return copyFile(base, path);
  const handle = await open(path, "w");
  await handle.truncate(size);
  await handle.close();
}

/** What a discard of [offset, offset + length) does, as the writer under test documents it. */
export type DiscardModel = (
  offset: number,
  length: number,
) => Array<{ offset: number; length: number; to: "zero" | "base" }>;

/**
 * Applies ops in order to the model raw file at `path`: writes put their
 * bytes, zero writes put zeros, discards do what `discard` says (read
 * `base`, the parent's model, where a block goes back to the parent).
 */
export async function applyOps(
  path: string,
  ops: readonly Op[],
  style: "fill" | "ramp",
  discard: DiscardModel,
  base?: string,
): Promise<void> {
  const handle = await open(path, "r+");
  const parent = base === undefined ? undefined : await open(base, "r");
  try {
    for (const op of ops) {
      if (op.kind === "write") await writeAll(handle, opBytes(op.pattern, op.offset, op.length, style), op.offset);
      else if (op.kind === "zero") await writeZeros(handle, op.offset, op.length);
      else {
        for (const piece of discard(op.offset, op.length)) {
          if (piece.to === "zero" || parent === undefined) await writeZeros(handle, piece.offset, piece.length);
          else await writeAll(handle, await readRaw(parent, piece.offset, piece.length), piece.offset);
        }
      }
    }
  } finally {
    await handle.close();
    await parent?.close();
  }
}

/** Whole blocks inside [offset, offset + length) (also the last, partial block when the range reaches `size`). */
export function wholeBlocks(
  offset: number,
  length: number,
  blockSize: number,
  size: number,
): Array<{ offset: number; length: number }> {
  const blocks: Array<{ offset: number; length: number }> = [];
  const end = offset + length;
  for (let start = Math.ceil(offset / blockSize) * blockSize; start < end; start += blockSize) {
    const blockEnd = Math.min(start + blockSize, size);
    if (blockEnd <= end) blocks.push({ offset: start, length: blockEnd - start });
  }
  return blocks;
}

async function readRaw(handle: FileHandle, offset: number, length: number): Promise<Uint8Array> {
  const bytes = new Uint8Array(length);
  await readRawInto(handle, bytes, offset);
  return bytes;
}

/** Fills `target` from the raw file at `offset`; a raw file shorter than that is an error. */
export async function readRawInto(handle: FileHandle, target: Uint8Array, offset: number): Promise<void> {
  let done = 0;
  while (done < target.length) {
    const { bytesRead } = await handle.read(target, done, target.length - done, offset + done);
    if (bytesRead === 0) throw new Error(`raw file ends at ${offset + done}, ${target.length - done} bytes short`);
    done += bytesRead;
  }
}

async function writeAll(handle: FileHandle, bytes: Uint8Array, offset: number): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, offset + done);
    done += bytesWritten;
  }
}

async function writeZeros(handle: FileHandle, offset: number, length: number): Promise<void> {
  for (let done = 0; done < length; done += CHUNK) {
    await writeAll(handle, new Uint8Array(Math.min(CHUNK, length - done)), offset + done);
  }
}

const ZEROS = new Uint8Array(CHUNK);

/** Whether every byte is zero (memcmp against a zero buffer: zero runs of many MiB are common). */
function isAllZero(bytes: Uint8Array): boolean {
  for (let at = 0; at < bytes.length; at += CHUNK) {
    const piece = bytes.subarray(at, Math.min(bytes.length, at + CHUNK));
    if (Buffer.compare(piece, ZEROS.subarray(0, piece.length)) !== 0) return false;
  }
  return true;
}
