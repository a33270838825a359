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
import { MiB } from "@vhdx/structs";
import type { Extent } from "./header-section.js";

/** QEMU 7.2 puts its first payload block this far past the end of its metadata region. */
const METADATA_ROOM = 4 * MiB;
const MAX_RANGES = 100;

export interface FileRange {
  offset: number;
  length: number;
}

export interface ReservedRange extends FileRange {
  kind: "padding" | "preallocated";
}

export interface UnreferencedSpace {
  leakedBytes: number;
  leakedRanges: FileRange[];
  paddingBytes: number;
  preallocatedBytes: number;
  reservedRanges: ReservedRange[];
}

export interface FileLayout {
  fileSize: number;
  /** The header section, log and regions. */
  structures: readonly Extent[];
  metadataRegion: Extent | null;
  /** Past the data of a partial last block that has a file offset: the rest of its block size. */
  partialBlockTail: FileRange | null;
  /** Bytes of payload a fixed disk's creator allocates up front (0 for other disks). */
  preallocatable: number;
}

/** Sorts the MiBs that neither `used` nor `referenced` marks. */
export function sortUnreferenced(used: MiBUnits, referenced: MiBUnits, layout: FileLayout): UnreferencedSpace {
  const { fileSize } = layout;
  const unreferenced = (unit: number) => !used.has(unit) && !referenced.has(unit);
  const room = metadataRoom(layout, unreferenced);
  const tail = layout.partialBlockTail === null ? null : unitSpan(layout.partialBlockTail);
  const payloadStart = firstUnitPastStructures(layout.structures, room);
  const preallocated = { start: payloadStart, end: payloadStart + Math.ceil(layout.preallocatable / MiB) };

  const space: UnreferencedSpace = { leakedBytes: 0, leakedRanges: [], paddingBytes: 0, preallocatedBytes: 0, reservedRanges: [] };
  const leaked = new RangeList<FileRange>(space.leakedRanges);
  const reserved = new RangeList<ReservedRange>(space.reservedRanges);
  const units = Math.ceil(fileSize / MiB);
  for (let unit = 0; unit < units; unit++) {
    if (!unreferenced(unit)) continue;
    const offset = unit * MiB;
    const length = Math.min(MiB, fileSize - offset);
    if (inSpan(unit, room) || (tail !== null && inSpan(unit, tail))) {
      space.paddingBytes += length;
      reserved.add({ offset, length, kind: "padding" });
    } else if (inSpan(unit, preallocated)) {
      space.preallocatedBytes += length;
      reserved.add({ offset, length, kind: "preallocated" });
    } else {
      space.leakedBytes += length;
      leaked.add({ offset, length });
    }
  }
  return space;
}

interface UnitSpan {
  start: number;
  end: number;
}

const inSpan = (unit: number, span: UnitSpan) => span.start <= unit && unit < span.end;

function unitSpan(range: FileRange): UnitSpan {
  return { start: Math.ceil(range.offset / MiB), end: Math.ceil((range.offset + range.length) / MiB) };
}

/** The unreferenced MiBs right after the metadata region, at most METADATA_ROOM of them. */
function metadataRoom(layout: FileLayout, unreferenced: (unit: number) => boolean): UnitSpan {
  const region = layout.metadataRegion;
  if (region === null) return { start: 0, end: 0 };
  const start = Math.ceil((region.offset + region.length) / MiB);
  let end = start;
  while (end < start + METADATA_ROOM / MiB && end * MiB < layout.fileSize && unreferenced(end)) end++;
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
    if (last !== undefined && last.kind === range.kind && last.offset + last.length === range.offset) last.length += range.length;
    else if (this.ranges.length < MAX_RANGES) this.ranges.push(range);
  }
}

/** One bit per MiB of the file. */
export class MiBUnits {
  private readonly bits: Uint8Array;

  constructor(fileSize: number) {
    this.bits = new Uint8Array(Math.ceil(Math.ceil(fileSize / MiB) / 8) + 1);
  }

  /** Marks [offset, offset + length) and returns whether any of it was marked before. */
  mark(offset: number, length: number): boolean {
    let seen = false;
    const end = Math.ceil((offset + length) / MiB);
    for (let unit = Math.floor(offset / MiB); unit < end; unit++) {
      const byte = unit >>> 3;
      const bit = 1 << (unit & 7);
      if (this.bits[byte]! & bit) seen = true;
      this.bits[byte]! |= bit;
    }
    return seen;
  }

  any(offset: number, length: number): boolean {
    const end = Math.ceil((offset + length) / MiB);
    for (let unit = Math.floor(offset / MiB); unit < end; unit++) if (this.has(unit)) return true;
    return false;
  }

  has(unit: number): boolean {
    return (this.bits[unit >>> 3]! & (1 << (unit & 7))) !== 0;
  }
}
