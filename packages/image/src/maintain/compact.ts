// Compacting a dynamic or differencing image (MS-VHDX 2.5, 2.3): payload
// blocks that read as all zeros become ZERO (unallocated), then the blocks
// nearest the end of the file move down into the holes and the file is cut
// after the last extent still in use. Every BAT change goes through the log;
// a moved block's old place is never reused (it lies above every block still
// to move), and the file is only cut after a flush and a last log entry whose
// FlushedFileOffset is the new size, so a crash at any point leaves an image
// that opens and reads exactly as before.
import { payloadBatIndex, sectorBitmapBatIndex } from "@vhdx/bat";
import {
  MiB,
  PAYLOAD_BLOCK_FULLY_PRESENT,
  PAYLOAD_BLOCK_PARTIALLY_PRESENT,
  SB_BLOCK_PRESENT,
  SECTOR_BITMAP_BLOCK_SIZE,
  VhdxError,
} from "@vhdx/structs";
import type { VhdxImage } from "../image.js";
import { relocateBlock, truncateFile } from "../internal/maintenance.js";
import { checkOptionKeys } from "../internal/options.js";

/** Moves between flushes: each flush is one log entry for the BAT pages changed. */
const MOVES_PER_FLUSH = 16;

export interface CompactProgress {
  /** "zero": looking for all-zero blocks (done/total in payload blocks); "move": blocks moved so far of those that may move. */
  phase: "zero" | "move";
  done: number;
  total: number;
}

export interface CompactOptions {
  onProgress?: (progress: CompactProgress) => void;
}

export interface CompactResult {
  /** All-zero payload blocks that became ZERO and gave their space back. */
  zeroedBlocks: number;
  /** Blocks moved down in the file. */
  movedBlocks: number;
  fileSizeBefore: number;
  fileSizeAfter: number;
}

/** Something that occupies file space: a structure, or a block with its BAT entry. */
interface Used {
  offset: number;
  length: number;
  batIndex?: number;
}

interface Gap {
  offset: number;
  length: number;
}

/** Compacts an image opened read-write; the image stays open (and consistent) for the caller. */
export async function compactImage(image: VhdxImage, options: CompactOptions = {}): Promise<CompactResult> {
  checkOptionKeys("compactImage", options, ["onProgress"]);
  checkCompactable(image);
  const report = options.onProgress ?? (() => {});
  const fileSizeBefore = await image.source.size();
  const zeroedBlocks = await zeroBlocks(image, report);
  await image.flush();
  const used = await usedExtents(image);
  const movedBlocks = await moveBlocks(image, used, report);
  await image.flush();
  const end = used.reduce((max, u) => Math.max(max, u.offset + u.length), 0);
  if (end < fileSizeBefore) await truncateFile(image, end);
  return { zeroedBlocks, movedBlocks, fileSizeBefore, fileSizeAfter: await image.source.size() };
}

function checkCompactable(image: VhdxImage): void {
  const name = image.source.name;
  if (image.readOnly) throw new VhdxError("READ_ONLY", `cannot compact ${name}: it is open read-only`);
  if (image.diskType === "fixed") {
    throw new VhdxError(
      "UNSUPPORTED",
      `cannot compact ${name}: it is a fixed disk (LeaveBlockAllocated), whose blocks keep their space; convert it to a dynamic disk first`,
    );
  }
}

/** Payload blocks FULLY_PRESENT and all zeros become ZERO; returns how many. */
async function zeroBlocks(image: VhdxImage, report: (p: CompactProgress) => void): Promise<number> {
  const table = await image.bat();
  const { blockSize, payloadBlockCount } = table.geometry;
  const buffer = new Uint8Array(blockSize);
  let zeroed = 0;
  for (let block = 0; block < payloadBlockCount; block++) {
    report({ phase: "zero", done: block, total: payloadBlockCount });
    // PARTIALLY_PRESENT blocks are left alone: their zeros may stand over parent data.
    if (table.payloadState(block) !== PAYLOAD_BLOCK_FULLY_PRESENT) continue;
    const start = block * blockSize;
    const view = buffer.subarray(0, Math.min(blockSize, image.virtualSize - start));
    await image.readInto(view, start);
    if (!isAllZero(view)) continue;
    await image.writeZeroes(start, view.length);
    zeroed++;
  }
  report({ phase: "zero", done: payloadBlockCount, total: payloadBlockCount });
  return zeroed;
}

function isAllZero(bytes: Uint8Array): boolean {
  const words = new BigUint64Array(bytes.buffer, bytes.byteOffset, Math.floor(bytes.length / 8));
  for (let i = 0; i < words.length; i++) if (words[i] !== 0n) return false;
  for (let i = words.length * 8; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

/** The structures and every block in use (after the zeroing flush), sorted by offset. */
async function usedExtents(image: VhdxImage): Promise<Used[]> {
  const table = await image.bat();
  const { geometry } = table;
  const used: Used[] = image.layout.extents.map((e) => ({ offset: e.offset, length: roundUp(e.length) }));
  for (let block = 0; block < geometry.payloadBlockCount; block++) {
    const state = table.payloadState(block);
    if (state !== PAYLOAD_BLOCK_FULLY_PRESENT && state !== PAYLOAD_BLOCK_PARTIALLY_PRESENT) continue;
    const batIndex = payloadBatIndex(geometry, block);
    used.push({ offset: table.fileOffset(batIndex), length: geometry.blockSize, batIndex });
  }
  if (geometry.hasParent) {
    for (let chunk = 0; chunk < geometry.sectorBitmapBlockCount; chunk++) {
      const batIndex = sectorBitmapBatIndex(geometry, chunk);
      if (batIndex >= geometry.batEntryCount || table.state(batIndex) !== SB_BLOCK_PRESENT) continue;
      used.push({ offset: table.fileOffset(batIndex), length: SECTOR_BITMAP_BLOCK_SIZE, batIndex });
    }
  }
  return used.sort((a, b) => a.offset - b.offset);
}

/** 1 MiB-aligned free ranges between the used extents (sorted by offset). */
function freeGaps(used: readonly Used[]): Gap[] {
  const gaps: Gap[] = [];
  let at = 0;
  for (const u of used) {
    const start = roundUp(at);
    const end = Math.floor(u.offset / MiB) * MiB;
    if (end > start) gaps.push({ offset: start, length: end - start });
    at = Math.max(at, u.offset + u.length);
  }
  return gaps;
}

/**
 * The block ending highest moves to the lowest gap below it that fits, until
 * one cannot move. Updates `used` in place; returns the number moved. A moved
 * block's old place is above every block still to move, so it is never a
 * destination: no block is written where the flushed BAT still points.
 */
async function moveBlocks(image: VhdxImage, used: Used[], report: (p: CompactProgress) => void): Promise<number> {
  const gaps = freeGaps(used);
  const blocks = used
    .filter((u) => u.batIndex !== undefined)
    .sort((a, b) => b.offset + b.length - (a.offset + a.length));
  let moved = 0;
  for (const block of blocks) {
    report({ phase: "move", done: moved, total: blocks.length });
    const gap = gaps.find((g) => g.length >= block.length && g.offset + block.length <= block.offset);
    if (gap === undefined) break;
    await relocateBlock(image, block.batIndex!, gap.offset, block.length);
    block.offset = gap.offset;
    gap.offset += block.length;
    gap.length -= block.length;
    moved++;
    if (moved % MOVES_PER_FLUSH === 0) await image.flush();
  }
  report({ phase: "move", done: moved, total: moved });
  return moved;
}

function roundUp(n: number): number {
  return Math.ceil(n / MiB) * MiB;
}
