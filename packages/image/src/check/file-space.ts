// File space no structure, block or BAT entry refers to, sorted into what a
// creator leaves on purpose and what is leaked. Seen in the files of QEMU 7.2
// and of this library:
//
// - padding, room after the metadata region: QEMU starts payload 4 MiB past
//   the end of its metadata region, for its structures to grow; a BAT moved by
//   `vhdx resize` leaves its old MiBs there too (log, metadata, BAT order).
// - padding, the rest of a partial last block: writers allocate the last
//   block whole, though only part of it lies inside the virtual disk.
// - preallocated: a fixed disk's creator allocates every block's space up
//   front, yet QEMU marks those blocks ZERO with FileOffsetMB 0
//   (block_state_zero=on) and puts written blocks past the end of the file.
//   At most one virtual disk's worth of payload counts, from the first MiB
//   after the structures (and their room) at the front of the file.
//
// Everything else unreferenced is leaked: nothing reaches it, and writers
// append new blocks at the end of the file rather than reuse it.
import { MAX_SAFE_FILE_OFFSET_MB } from "@vhdx/bat";
import { MiB } from "@vhdx/structs";
import { MiBUnits } from "../internal/mib-units.js";
import type { Extent } from "../open/layout.js";
import type { CheckedEntry } from "./bat-entries.js";
import type { FileRange, ReservedRange } from "./report.js";

/** QEMU 7.2 puts its first payload block this far past the end of its metadata region. */
const METADATA_ROOM = 4 * MiB;
const MAX_RANGES = 100;

export interface UnreferencedSpace {
  leakedBytes: number;
  leakedRanges: FileRange[];
  paddingBytes: number;
  preallocatedBytes: number;
  reservedRanges: ReservedRange[];
}

export interface FileLayout {
  metadataRegion: Extent | null;
  /** Bytes of payload a fixed disk's creator allocates up front (0 for other disks). */
  preallocatable: number;
}

/** What the BAT pass learns about the file's MiBs. */
export class SpaceMap {
  /** MiBs of the structures and of the blocks that hold data. */
  readonly used: MiBUnits;
  /** MiBs entries without data still point at: not leaked, never an error. */
  private readonly referenced: MiBUnits;
  /** Past the data of a partial last block that has a file offset: the rest of its block size. */
  private partialBlockTail: FileRange | null = null;

  constructor(
    private readonly fileSize: number,
    private readonly structures: readonly Extent[],
  ) {
    this.used = new MiBUnits(fileSize);
    this.referenced = new MiBUnits(fileSize);
    for (const extent of structures) {
      if (extent.offset < fileSize) this.used.mark(extent.offset, Math.min(extent.length, fileSize - extent.offset));
    }
  }

  /** Space an entry that holds no data points at. */
  keep(entry: CheckedEntry): void {
    const mb = entry.fileOffsetMB;
    const offset = mb * MiB;
    if (mb !== 0 && mb <= MAX_SAFE_FILE_OFFSET_MB && offset < this.fileSize)
      this.referenced.mark(offset, Math.min(entry.length, this.fileSize - offset));
  }

  /** Notes the rest of the last payload block's allocation when the block is partial and has a file offset. */
  lastBlock(entry: CheckedEntry, blockSize: number): void {
    const mb = entry.fileOffsetMB;
    if (entry.length < blockSize && mb !== 0 && mb <= MAX_SAFE_FILE_OFFSET_MB) {
      this.partialBlockTail = { offset: mb * MiB + entry.length, length: blockSize - entry.length };
    }
  }

  /** Sorts the MiBs that nothing uses or points at. */
  sortUnreferenced(layout: FileLayout): UnreferencedSpace {
    const { fileSize } = this;
    const unreferenced = (unit: number) => !this.used.has(unit) && !this.referenced.has(unit);
    const room = metadataRoom(layout.metadataRegion, fileSize, unreferenced);
    const tail = this.partialBlockTail === null ? null : unitSpan(this.partialBlockTail);
    const payloadStart = firstUnitPastStructures(this.structures, room);
    const preallocated = { start: payloadStart, end: payloadStart + Math.ceil(layout.preallocatable / MiB) };

    const space: UnreferencedSpace = {
      leakedBytes: 0,
      leakedRanges: [],
      paddingBytes: 0,
      preallocatedBytes: 0,
      reservedRanges: [],
    };
    const leaked = new RangeList<FileRange>(space.leakedRanges);
    const reserved = new RangeList<ReservedRange>(space.reservedRanges);
    const padding = tail === null ? [room] : [room, tail];
    const units = Math.ceil(fileSize / MiB);
    for (const [start, end] of this.used.unmarkedRuns(this.referenced, units)) {
      for (const [from, to] of splitAt(start, end, [...padding, preallocated])) {
        const offset = from * MiB;
        const length = Math.min(to * MiB, fileSize) - offset;
        if (padding.some((span) => inSpan(from, span))) {
          space.paddingBytes += length;
          reserved.add({ offset, length, kind: "padding" });
        } else if (inSpan(from, preallocated)) {
          space.preallocatedBytes += length;
          reserved.add({ offset, length, kind: "preallocated" });
        } else {
          space.leakedBytes += length;
          leaked.add({ offset, length });
        }
      }
    }
    return space;
  }
}

interface UnitSpan {
  start: number;
  end: number;
}

const inSpan = (unit: number, span: UnitSpan) => span.start <= unit && unit < span.end;

/** [start, end) cut at every span edge inside it, so each piece lies wholly in or out of each span. */
function splitAt(start: number, end: number, spans: readonly UnitSpan[]): Array<[number, number]> {
  const edges = spans.flatMap((span) => [span.start, span.end]).filter((edge) => start < edge && edge < end);
  const points = [start, ...[...new Set(edges)].sort((a, b) => a - b), end];
  return points.slice(1).map((to, i) => [points[i]!, to]);
}

function unitSpan(range: FileRange): UnitSpan {
  return { start: Math.ceil(range.offset / MiB), end: Math.ceil((range.offset + range.length) / MiB) };
}

/** The unreferenced MiBs right after the metadata region, at most METADATA_ROOM of them. */
function metadataRoom(region: Extent | null, fileSize: number, unreferenced: (unit: number) => boolean): UnitSpan {
  if (region === null) return { start: 0, end: 0 };
  const start = Math.ceil((region.offset + region.length) / MiB);
  let end = start;
  while (end < start + METADATA_ROOM / MiB && end * MiB < fileSize && unreferenced(end)) end++;
  return { start, end };
}

/** The first MiB past the header section that no structure and no room covers. */
function firstUnitPastStructures(structures: readonly Extent[], room: UnitSpan): number {
  let unit = 1;
  for (;;) {
    if (room.start < room.end && inSpan(unit, room)) {
      unit = room.end;
      continue;
    }
    const structure = structures.find((s) => s.length > 0 && inSpan(unit, unitSpan(s)));
    if (structure === undefined) return unit;
    unit = unitSpan(structure).end;
  }
}

/** Appends ranges in file order, merging each with the one it continues; keeps at most MAX_RANGES. */
class RangeList<T extends FileRange & { kind?: string }> {
  constructor(private readonly ranges: T[]) {}

  add(range: T): void {
    const last = this.ranges[this.ranges.length - 1];
    if (last !== undefined && last.kind === range.kind && last.offset + last.length === range.offset)
      last.length += range.length;
    else if (this.ranges.length < MAX_RANGES) this.ranges.push(range);
  }
}
