// Streaming the BAT for a check: every entry that can tell the check
// something, in order, without ever holding the whole table. A 64 TiB disk
// with 1 MiB blocks has a 512 MiB BAT, nearly all of it entries of blocks that
// were never written, so the two costs are reading it and looking at it:
// pieces are read ahead (two reads in flight while the third piece is
// scanned), and each chunk's run of payload entries is first compared against
// a run of one "nothing here" entry repeated, with the fastest comparison the
// host has (memcmp in Node, see BytesEqual).
import { type BatGeometry, BatTable } from "@vhdx/bat";
import type { RandomAccessSource } from "../sources/source.js";
import { readPaddedInto } from "./bytes.js";

/** Entries per piece: 4 MiB of BAT. */
export const PIECE_ENTRIES = 524288;
/** Pieces read ahead of the one being scanned. */
const READ_AHEAD = 2;
/**
 * Entries whose u64 is at most this (a state without data, 0 to 3, at file
 * offset 0 with no reserved bit) tell a check nothing: their low u32 is the
 * state itself and their high u32 is 0.
 */
const UNALLOCATED_AT_ZERO = 3;

/** Whether two arrays of the same length hold the same bytes. */
export type BytesEqual = (a: Uint8Array, b: Uint8Array) => boolean;

/** Called with each entry worth a look: its BAT index, and the window of the BAT that holds it. */
export type VisitEntry = (index: number, table: BatTable) => void;

export interface BatStream {
  source: RandomAccessSource;
  /** File offset of the BAT. */
  batOffset: number;
  /** The BAT's entry count and chunk ratio. */
  geometry: Pick<BatGeometry, "batEntryCount" | "chunkRatio">;
  bytesEqual: BytesEqual;
  /** Told the entries read so far after each piece. */
  onPiece?: (done: number) => void;
}

/**
 * Calls visit for each of the BAT's entries except payload entries in a state
 * without data (0 to 3) at offset 0 with no reserved bits. Sector bitmap
 * entries are always visited. Bytes past the end of the source read as zeros.
 */
export async function forEachBatEntry(stream: BatStream, visit: VisitEntry): Promise<void> {
  const { source, batOffset } = stream;
  const count = stream.geometry.batEntryCount;
  const pieceEntries = Math.min(count, PIECE_ENTRIES);
  const buffers = Array.from({ length: READ_AHEAD + 1 }, () => new Uint8Array(pieceEntries * 8));
  const pieces = Math.ceil(count / PIECE_ENTRIES);
  const reads: Array<Promise<Uint8Array>> = [];
  const startRead = (piece: number) => {
    if (piece >= pieces) return;
    const entries = Math.min(PIECE_ENTRIES, count - piece * PIECE_ENTRIES);
    const read = readPaddedInto(
      source,
      buffers[piece % buffers.length]!.subarray(0, entries * 8),
      batOffset + piece * PIECE_ENTRIES * 8,
    );
    read.catch(() => undefined); // awaited in turn below; meanwhile a failure is not "unhandled"
    reads[piece] = read;
  };
  for (let piece = 0; piece < READ_AHEAD; piece++) startRead(piece);
  const scanner = new PieceScanner(stream.geometry, stream.bytesEqual);
  for (let piece = 0; piece < pieces; piece++) {
    const bytes = await reads[piece]!;
    delete reads[piece];
    startRead(piece + READ_AHEAD);
    scanner.scan(bytes, piece * PIECE_ENTRIES, visit);
    stream.onPiece?.(piece * PIECE_ENTRIES + bytes.length / 8);
  }
}

/** Walks a piece chunk by chunk: a payload run that matches an unallocated template is skipped whole. */
class PieceScanner {
  /** templates[v]: `period` entries of value v (0 to 3), made when first needed. */
  private readonly templates: Array<Uint8Array | undefined> = [];
  /** chunkRatio + 1: every period-th entry (the last of each chunk) is a sector bitmap entry. */
  private readonly period: number;

  constructor(
    private readonly geometry: BatStream["geometry"],
    private readonly bytesEqual: BytesEqual,
  ) {
    this.period = geometry.chunkRatio + 1;
  }

  scan(bytes: Uint8Array, first: number, visit: VisitEntry): void {
    const table = BatTable.window(bytes, this.geometry as BatGeometry, { firstEntry: first });
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    const n = bytes.length / 8;
    let k = 0;
    while (k < n) {
      const bitmap = this.period - 1 - ((first + k) % this.period);
      const runEnd = Math.min(n, k + bitmap);
      if (!this.isUnallocatedRun(bytes, view, k, runEnd)) visitRun(table, view, first, k, runEnd, visit);
      if (runEnd < n) visit(first + runEnd, table);
      k = runEnd + 1;
    }
  }

  /** Whether entries [from, to) are all one and the same unallocated value. */
  private isUnallocatedRun(bytes: Uint8Array, view: DataView, from: number, to: number): boolean {
    if (from === to) return true;
    const value = view.getUint32(from * 8, true);
    if (view.getUint32(from * 8 + 4, true) !== 0 || value > UNALLOCATED_AT_ZERO) return false;
    return this.bytesEqual(bytes.subarray(from * 8, to * 8), this.template(value).subarray(0, (to - from) * 8));
  }

  private template(value: number): Uint8Array {
    let template = this.templates[value];
    if (template === undefined) {
      template = new Uint8Array(this.period * 8);
      if (value !== 0) for (let at = 0; at < template.length; at += 8) template[at] = value;
      this.templates[value] = template;
    }
    return template;
  }
}

function visitRun(table: BatTable, view: DataView, first: number, from: number, to: number, visit: VisitEntry): void {
  for (let k = from; k < to; k++) {
    if (view.getUint32(k * 8 + 4, true) === 0 && view.getUint32(k * 8, true) <= UNALLOCATED_AT_ZERO) continue;
    visit(first + k, table);
  }
}

/** BytesEqual in plain JavaScript, four bytes at a time: for hosts without a native memcmp. */
export function portableBytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  if (((a.byteOffset | b.byteOffset | a.length) & 3) !== 0) {
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  const x = new Int32Array(a.buffer, a.byteOffset, a.length >>> 2);
  const y = new Int32Array(b.buffer, b.byteOffset, b.length >>> 2);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}
