// Merging a differencing disk into its parent (what Hyper-V's Merge-VHD does):
// every range the CHILD itself defines is written into the parent, so the
// parent then reads as the child did. Portable: no node imports.
//
// | child's run (mapRange)                      | written into the parent |
// |---------------------------------------------|-------------------------|
// | data (FULLY_PRESENT, present sectors of a   | the child's bytes       |
// |   PARTIALLY_PRESENT block)                  |                         |
// | zero (ZERO, UNMAPPED, UNDEFINED)            | writeZeroes             |
// | parent (NOT_PRESENT, absent sectors)        | nothing                 |
//
// The work goes a block at a time with one reused buffer, so memory stays
// bounded whatever the disk's size. Nothing here is atomic: a merge that
// stops half-way leaves a consistent parent (every flushed write is in it)
// holding part of the child's data.
import { type ReadRun, mapRange, splitPartialRun } from "@vhdx/bat";
import { guidEquals } from "@vhdx/guid";
import { SECTOR_BITMAP_BLOCK_SIZE, VhdxError } from "@vhdx/structs";
import type { VhdxImage } from "../image.js";
import { checkOptionKeys } from "../internal/options.js";
import { readExactly } from "../sources/source.js";

export interface MergeProgress {
  /** Bytes of the child's virtual disk looked at so far. */
  done: number;
  /** The child's virtual size. */
  total: number;
  bytesCopied: number;
  bytesZeroed: number;
}

export interface MergeOptions {
  /** Called after each block. */
  onProgress?: (progress: MergeProgress) => void;
  /** Largest piece read and written at once (default 4 MiB). */
  bufferSize?: number;
}

export interface MergeResult {
  /** Bytes of the child's own data written into the parent. */
  bytesCopied: number;
  /** Bytes the child reads as zeros of its own accord, made zeros in the parent. */
  bytesZeroed: number;
}

const MiB = 1 << 20;

/**
 * Writes what `child` itself defines into `parent`, which must be the child's
 * parent (same disk as `child.parent`) opened read-write. Flushes the parent;
 * closing it (and the child) stays the caller's.
 */
export async function mergeIntoParent(
  child: VhdxImage,
  parent: VhdxImage,
  options: MergeOptions = {},
): Promise<MergeResult> {
  checkOptionKeys("mergeIntoParent", options, ["onProgress", "bufferSize"]);
  checkPair(child, parent);
  const table = await child.bat();
  const corrupt = await child.corruptBatEntries();
  if (corrupt.size > 0) {
    const [index, reason] = [...corrupt][0]!;
    throw new VhdxError(
      "CORRUPT_BAT",
      `${child.source.name}: BAT entry ${index} ${reason}; repair the child before merging it`,
      {
        structure: "BAT",
      },
    );
  }
  const { blockSize, chunkSize } = child.geometry;
  const total = child.virtualSize;
  const buffer = new Uint8Array(Math.max(child.logicalSectorSize, Math.min(options.bufferSize ?? 4 * MiB, blockSize)));
  let bitmapChunk = -1;
  let bitmap: Uint8Array | null = null;
  const chunkBitmap = async (chunk: number): Promise<Uint8Array> => {
    if (chunk !== bitmapChunk || bitmap === null) {
      bitmap ??= new Uint8Array(SECTOR_BITMAP_BLOCK_SIZE);
      await readExactly(child.source, bitmap, table.sectorBitmapFileOffset(chunk), "sector bitmap block");
      bitmapChunk = chunk;
    }
    return bitmap;
  };
  const result: MergeResult = { bytesCopied: 0, bytesZeroed: 0 };

  const copy = async (run: ReadRun): Promise<void> => {
    for (let done = 0; done < run.length; done += buffer.length) {
      const piece = buffer.subarray(0, Math.min(buffer.length, run.length - done));
      await readExactly(child.source, piece, run.fileOffset + done, "payload block");
      await parent.write(run.virtualOffset + done, piece);
    }
    result.bytesCopied += run.length;
  };

  for (let start = 0; start < total; start += blockSize) {
    const length = Math.min(blockSize, total - start);
    const runs: ReadRun[] = [];
    mapRange(table, start, length, (run) => runs.push(run));
    for (const run of runs) {
      switch (run.kind) {
        case "data":
          await copy(run);
          break;
        case "zero":
          await parent.writeZeroes(run.virtualOffset, run.length);
          result.bytesZeroed += run.length;
          break;
        case "parent":
          break;
        case "partial": {
          const pieces: ReadRun[] = [];
          splitPartialRun(run, await chunkBitmap(Math.floor(run.virtualOffset / chunkSize)), child.geometry, (piece) =>
            pieces.push(piece),
          );
          const data = pieces.filter((piece) => piece.kind === "data");
          if (data.length > 1 && run.length <= buffer.length) {
            // Many small pieces (sector-sized writes): one read of the whole run.
            const whole = buffer.subarray(0, run.length);
            await readExactly(child.source, whole, run.fileOffset, "payload block");
            for (const piece of data) {
              const at = piece.virtualOffset - run.virtualOffset;
              await parent.write(piece.virtualOffset, whole.subarray(at, at + piece.length));
              result.bytesCopied += piece.length;
            }
          } else {
            for (const piece of data) await copy(piece);
          }
          break;
        }
      }
    }
    options.onProgress?.({ done: start + length, total, ...result });
  }
  await parent.flush();
  return result;
}

function checkPair(child: VhdxImage, parent: VhdxImage): void {
  if (child.parent === null) {
    throw new VhdxError(
      "INVALID_ARGUMENT",
      `${child.source.name} is a ${child.diskType} disk, not a differencing disk: it has no parent to merge into`,
    );
  }
  if (parent.readOnly) {
    throw new VhdxError("READ_ONLY", `merge: the parent ${parent.source.name} must be opened read-write`);
  }
  if (
    parent.virtualDiskId !== child.parent.virtualDiskId ||
    !guidEquals(parent.dataWriteGuid, child.parent.dataWriteGuid) ||
    parent.logicalSectorSize !== child.logicalSectorSize
  ) {
    throw new VhdxError(
      "PARENT_LINKAGE_MISMATCH",
      `merge: ${parent.source.name} is not the parent of ${child.source.name} (or changed since it was opened)`,
    );
  }
  if (child.virtualSize > parent.virtualSize) {
    throw new VhdxError(
      "UNSUPPORTED",
      `merge: ${child.source.name} (${child.virtualSize} bytes) is larger than its parent ${parent.source.name} (${parent.virtualSize} bytes); resize the parent first`,
    );
  }
}
