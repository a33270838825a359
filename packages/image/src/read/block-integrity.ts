// The BAT check that needs every entry (MS-VHDX 2.5): no block
// may lie in the header section, past the end of the file, over the log or a
// region, or over another block. One pass with a bit per MiB of the file (a
// 64 TiB file costs 8 MiB); entries that break a rule are remembered and
// refused when a read uses them, so the rest of a damaged image stays readable.
import type { BatTable } from "@vhdx/bat";
import {
  HEADER_SECTION_SIZE,
  MiB,
  PAYLOAD_BLOCK_FULLY_PRESENT,
  PAYLOAD_BLOCK_PARTIALLY_PRESENT,
  SB_BLOCK_PRESENT,
  VhdxError,
} from "@vhdx/structs";
import { MiBUnits } from "../internal/mib-units.js";
import type { Extent } from "../open/layout.js";

/** BAT index -> what is wrong with that entry. */
export type CorruptEntries = Map<number, string>;

/** The CORRUPT_BAT a read throws for entry `index` of the BAT at `batOffset`. */
export function corruptEntryError(batOffset: number, index: number, detail: string): VhdxError {
  return new VhdxError("CORRUPT_BAT", `entry ${index}: ${detail}`, { structure: "BAT", offset: batOffset + index * 8 });
}

export function scanBlockPlacement(table: BatTable, fileSize: number, structures: readonly Extent[]): CorruptEntries {
  const scan = new PlacementScan(fileSize, structures);
  scan.add(table);
  if (scan.clashed) scan.refuseFirstOwners(table);
  return scan.corrupt;
}

/**
 * The same scan fed a part of the BAT at a time (BatTable windows, in
 * order), for a BAT too large to hold. When `clashed` is true at the end, a
 * second pass through refuseFirstOwners marks the earlier user of each
 * overlapped MiB too.
 */
export class PlacementScan {
  readonly corrupt: CorruptEntries = new Map();
  private readonly used: MiBUnits;
  private readonly clashes: MiBUnits;
  private clashFound = false;

  constructor(
    private readonly fileSize: number,
    structures: readonly Extent[],
  ) {
    this.used = new MiBUnits(fileSize);
    this.clashes = new MiBUnits(fileSize);
    for (const extent of structures)
      this.used.mark(extent.offset, Math.min(extent.length, Math.max(0, fileSize - extent.offset)));
  }

  get clashed(): boolean {
    return this.clashFound;
  }

  add(table: BatTable): void {
    forEachAllocatedEntry(table, (index, offset, length) => {
      const problem = placementProblem(offset, length, this.fileSize);
      if (problem !== null) {
        this.corrupt.set(index, problem);
      } else if (this.used.mark(offset, length)) {
        this.corrupt.set(index, "overlaps a structure or another block");
        this.clashes.mark(offset, length);
        this.clashFound = true;
      }
    });
  }

  /** The scan meets an overlap at its second user; refuse the first user of those MiBs too. */
  refuseFirstOwners(table: BatTable): void {
    forEachAllocatedEntry(table, (index, offset, length) => {
      if (!this.corrupt.has(index) && this.clashes.any(offset, length))
        this.corrupt.set(index, "overlaps another block");
    });
  }
}

/** Whether this machine stores numbers little-endian, as the BAT does (then a 32-bit view reads an entry's low half). */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/** Entries the fast path looks at together. */
const SPAN = 8;

/**
 * Calls visit(batIndex, fileOffset, length) for each entry that points at file
 * space (fileOffset past 2^53, so inexact, for a hostile FileOffsetMB). The
 * length of the last payload block is only its part inside the virtual disk:
 * QEMU ends a fixed image's file there.
 *
 * Only states 6 and 7 point at file space: both of the state's bits 1 and 2
 * set, which `low & (low << 1) & 4` tests. A 64 TiB disk with 1 MiB blocks has
 * 64 Mi entries, nearly all of them unallocated, so the test runs on eight
 * entries' low halves at once (a 32-bit view) and only a span that passes is
 * looked at entry by entry: about twice as fast as a byte per entry.
 */
function forEachAllocatedEntry(table: BatTable, visit: (index: number, offset: number, length: number) => void): void {
  const { bytes, firstEntry, endEntry } = table;
  let index = firstEntry;
  if (LITTLE_ENDIAN && bytes.byteOffset % 4 === 0) {
    const low = new Int32Array(bytes.buffer, bytes.byteOffset, (endEntry - firstEntry) * 2);
    for (; index + SPAN <= endEntry; index += SPAN) {
      const w = (index - firstEntry) * 2;
      const any =
        (low[w]! & (low[w]! << 1)) |
        (low[w + 2]! & (low[w + 2]! << 1)) |
        (low[w + 4]! & (low[w + 4]! << 1)) |
        (low[w + 6]! & (low[w + 6]! << 1)) |
        (low[w + 8]! & (low[w + 8]! << 1)) |
        (low[w + 10]! & (low[w + 10]! << 1)) |
        (low[w + 12]! & (low[w + 12]! << 1)) |
        (low[w + 14]! & (low[w + 14]! << 1));
      if (any & 4) visitAllocated(table, index, index + SPAN, visit);
    }
  }
  visitAllocated(table, index, endEntry, visit);
}

/** forEachAllocatedEntry over entries [from, to), one state byte per entry. */
function visitAllocated(
  table: BatTable,
  from: number,
  to: number,
  visit: (index: number, offset: number, length: number) => void,
): void {
  const { chunkRatio, blockSize, virtualSize } = table.geometry;
  const { bytes, firstEntry } = table;
  for (let index = from; index < to; index++) {
    const first = bytes[(index - firstEntry) * 8]!;
    if ((first & 6) !== 6) continue;
    const state = first & 7;
    if ((index + 1) % (chunkRatio + 1) === 0) {
      if (state === SB_BLOCK_PRESENT) visit(index, table.fileOffsetMB(index) * MiB, MiB);
    } else if (state === PAYLOAD_BLOCK_FULLY_PRESENT || state === PAYLOAD_BLOCK_PARTIALLY_PRESENT) {
      const block = index - Math.floor(index / (chunkRatio + 1));
      visit(index, table.fileOffsetMB(index) * MiB, Math.min(blockSize, virtualSize - block * blockSize));
    }
  }
}

function placementProblem(offset: number, length: number, fileSize: number): string | null {
  // A hostile FileOffsetMB makes an offset past 2^53: refused here, never an error that stops the scan.
  if (offset > Number.MAX_SAFE_INTEGER) return `has FileOffsetMB ${offset / MiB}, past any possible file`;
  const range = `0x${offset.toString(16)}-0x${(offset + length).toString(16)}`;
  if (offset < HEADER_SECTION_SIZE) return `points at ${range}, inside the header section`;
  if (offset + length > fileSize) return `points at ${range}, past the end of the file (0x${fileSize.toString(16)})`;
  return null;
}
