// One BAT entry as the check's passes see it: decoded by @vhdx/bat's
// BatTable, with what its index says (payload or sector bitmap entry, which block or chunk,
// how many bytes of the file its block covers).
import type { BatGeometry, BatTable } from "@vhdx/bat";
import {
  type BatEntry,
  MiB,
  PAYLOAD_BLOCK_FULLY_PRESENT,
  PAYLOAD_BLOCK_PARTIALLY_PRESENT,
  SB_BLOCK_PRESENT,
} from "@vhdx/structs";

export interface CheckedEntry extends BatEntry {
  index: number;
  /** File offset of the entry itself. */
  at: number;
  /** The last entry of a chunk, for its sector bitmap block. */
  sectorBitmap: boolean;
  /** The payload block, or the chunk of a sector bitmap entry. */
  number: number;
  /** Bytes of the file the block covers when present. */
  length: number;
}

export class EntryDecoder {
  constructor(
    private readonly geometry: BatGeometry,
    private readonly batOffset: number,
  ) {}

  decode(index: number, table: BatTable): CheckedEntry {
    const { chunkRatio } = this.geometry;
    const chunk = Math.floor(index / (chunkRatio + 1));
    const sectorBitmap = index % (chunkRatio + 1) === chunkRatio;
    const number = sectorBitmap ? chunk : index - chunk;
    return {
      state: table.state(index),
      reserved: table.reservedBits(index),
      fileOffsetMB: table.fileOffsetMB(index),
      index,
      at: this.batOffset + index * 8,
      sectorBitmap,
      number,
      length: sectorBitmap ? MiB : this.blockLength(number),
    };
  }

  /** The bytes of payload block `block` inside the virtual disk: less than a block for the last one. */
  blockLength(block: number): number {
    const { blockSize, virtualSize } = this.geometry;
    return Math.min(blockSize, virtualSize - block * blockSize);
  }
}

/** Whether the entry says its block holds data in this file (and so must lie somewhere sound). */
export function holdsData(entry: CheckedEntry, hasParent: boolean): boolean {
  if (entry.sectorBitmap) return entry.state === SB_BLOCK_PRESENT && hasParent;
  return entry.state === PAYLOAD_BLOCK_FULLY_PRESENT || (entry.state === PAYLOAD_BLOCK_PARTIALLY_PRESENT && hasParent);
}

/** "payload block 5", "sector bitmap block of chunk 0". */
export function describeBlock(entry: CheckedEntry): string {
  return entry.sectorBitmap ? `sector bitmap block of chunk ${entry.number}` : `payload block ${entry.number}`;
}

/** "payload block 5 (entry 5)". */
export function describeEntry(entry: CheckedEntry): string {
  return `${describeBlock(entry)} (entry ${entry.index})`;
}
