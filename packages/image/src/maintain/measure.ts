// Measuring the VHDX file a create or a convert would make (as qemu-img
// measure does), from the layout createImage uses (create/create-layout.ts):
// the header section, log, metadata region and BAT region, then one block of
// BlockSize bytes per allocated payload block. "required" counts the blocks
// that hold data; "fullyAllocated" counts every block (a fixed image).
import { MiB } from "@vhdx/structs";
import { encodeMetadataRegion, metadataItems, planLayout } from "../create/create-layout.js";
import { type CreateOptions, invalidArgument, resolveCreateOptions } from "../create/create-options.js";

export interface MeasureOptions {
  /** The virtual size in bytes. */
  size: number;
  /** "dynamic" (the default) or "fixed". */
  type?: "dynamic" | "fixed";
  /** Default 32 MiB, as createImage. */
  blockSize?: number;
  /** 512 (the default) or 4096. */
  logicalSectorSize?: 512 | 4096;
  /** How many payload blocks hold data (a dynamic image allocates these); default none. */
  allocatedBlocks?: number;
}

export interface Measurement {
  /** The file's size with the data's blocks allocated (every block for a fixed image). */
  required: number;
  /** The file's size with every block allocated. */
  fullyAllocated: number;
  /** Header section, log, metadata and BAT: the file's size with no block allocated. */
  overhead: number;
  blockSize: number;
  /** Payload blocks of the virtual disk. */
  blockCount: number;
  /** Payload blocks counted in `required`. */
  allocatedBlocks: number;
}

/** The sizes of the file createImage would make for `options`, with `allocatedBlocks` blocks written. */
export function measureImage(options: MeasureOptions): Measurement {
  if (typeof options !== "object" || options === null) throw new TypeError("measure: options must be an object");
  const { allocatedBlocks = 0, type = "dynamic", ...layout } = options;
  if ((type as string) === "differencing")
    throw invalidArgument("measure takes a dynamic or fixed image; a differencing one depends on its writes");
  const plan = resolveCreateOptions({ ...layout, type } satisfies CreateOptions);
  const { firstBlockOffset, geometry } = planLayout(
    { ...plan, type: "dynamic" },
    encodeMetadataRegion(metadataItems(plan)).length,
  );
  const blockCount = geometry.payloadBlockCount;
  if (!Number.isSafeInteger(allocatedBlocks) || allocatedBlocks < 0 || allocatedBlocks > blockCount) {
    throw invalidArgument(`allocatedBlocks is ${allocatedBlocks}, expected 0 to the ${blockCount} blocks of the disk`);
  }
  const counted = type === "fixed" ? blockCount : allocatedBlocks;
  const blockBytes = Math.ceil(plan.blockSize / MiB) * MiB;
  return {
    required: firstBlockOffset + counted * blockBytes,
    fullyAllocated: firstBlockOffset + blockCount * blockBytes,
    overhead: firstBlockOffset,
    blockSize: plan.blockSize,
    blockCount,
    allocatedBlocks: counted,
  };
}

/**
 * How many blocks of `blockSize` bytes a copy of a disk allocates: those
 * `stretches` (the [offset, length] runs that may hold data, in order)
 * touch, or with `read`, only those holding a nonzero byte, as a copy that
 * skips zeros leaves the rest unallocated.
 */
export async function countDataBlocks(
  stretches: AsyncIterable<readonly [number, number]> | Iterable<readonly [number, number]>,
  blockSize: number,
  read?: (buffer: Uint8Array, offset: number) => Promise<void>,
): Promise<number> {
  let count = 0;
  let lastCounted = -1;
  const buffer = read === undefined ? null : new Uint8Array(Math.min(blockSize, 8 * MiB));
  for await (const [offset, length] of stretches) {
    for (let block = Math.floor(offset / blockSize); block * blockSize < offset + length; block++) {
      if (block <= lastCounted) continue;
      const start = Math.max(offset, block * blockSize);
      const end = Math.min(offset + length, (block + 1) * blockSize);
      if (buffer === null || (await holdsData(buffer, start, end, read!))) {
        count++;
        lastCounted = block;
      }
    }
  }
  return count;
}

async function holdsData(
  buffer: Uint8Array,
  start: number,
  end: number,
  read: (buffer: Uint8Array, offset: number) => Promise<void>,
): Promise<boolean> {
  for (let at = start; at < end; at += buffer.length) {
    const piece = buffer.subarray(0, Math.min(buffer.length, end - at));
    await read(piece, at);
    if (!isAllZero(piece)) return true;
  }
  return false;
}

function isAllZero(bytes: Uint8Array): boolean {
  const whole = bytes.byteOffset % 4 === 0 ? Math.floor(bytes.length / 4) : 0;
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset, whole);
  for (let i = 0; i < words.length; i++) if (words[i] !== 0) return false;
  for (let i = whole * 4; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}
