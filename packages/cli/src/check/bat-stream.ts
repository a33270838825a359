// Streaming the BAT for `vhdx check`: every entry that can tell a check
// something, in order, without ever holding the whole table. A 64 TiB disk
// with 1 MiB blocks has a 512 MiB BAT, nearly all of it entries of blocks that
// were never written, so the two costs are reading it and looking at it:
// pieces are read ahead (two reads in flight while the third piece is
// scanned), and each chunk's run of payload entries is first compared, with
// memcmp, against a run of one "nothing here" entry repeated.
import { Buffer } from "node:buffer";
import type { RandomAccessSource } from "@vhdx/image";

/** Entries per piece: 4 MiB of BAT. */
const PIECE_ENTRIES = 524288;
/** Pieces read ahead of the one being scanned. */
const READ_AHEAD = 2;
/** Payload entries up to this value (states 0-3, offset 0, no reserved bits) need no check. */
const UNALLOCATED_AT_ZERO = 3;

export type VisitEntry = (index: number, low: number, high: number) => void;

/**
 * Calls visit(index, low u32, high u32) for each of the `count` entries at
 * `batOffset` except payload entries in a state without data (0 to 3) at
 * offset 0 with no reserved bits, which tell a check nothing. Sector bitmap
 * entries (every `period`-th, the last of each chunk) are always visited.
 * Bytes past the end of the source read as zeros.
 */
export async function forEachBatEntry(
  source: RandomAccessSource,
  batOffset: number,
  count: number,
  period: number,
  visit: VisitEntry,
  onPiece: (done: number) => void,
): Promise<void> {
  const pieceEntries = Math.min(count, PIECE_ENTRIES);
  const buffers = Array.from({ length: READ_AHEAD + 1 }, () => new Uint8Array(pieceEntries * 8));
  const pieces = Math.ceil(count / PIECE_ENTRIES);
  const reads: Array<Promise<Uint8Array>> = [];
  const startRead = (piece: number) => {
    if (piece >= pieces) return;
    const entries = Math.min(PIECE_ENTRIES, count - piece * PIECE_ENTRIES);
    const read = readFully(source, buffers[piece % buffers.length]!.subarray(0, entries * 8), batOffset + piece * PIECE_ENTRIES * 8);
    read.catch(() => undefined); // awaited in turn below; meanwhile a failure is not "unhandled"
    reads[piece] = read;
  };
  for (let piece = 0; piece < READ_AHEAD; piece++) startRead(piece);
  const scanner = new PieceScanner(period);
  for (let piece = 0; piece < pieces; piece++) {
    const bytes = await reads[piece]!;
    delete reads[piece];
    startRead(piece + READ_AHEAD);
    scanner.scan(bytes, piece * PIECE_ENTRIES, visit);
    onPiece(piece * PIECE_ENTRIES + bytes.length / 8);
  }
}

async function readFully(source: RandomAccessSource, into: Uint8Array, position: number): Promise<Uint8Array> {
  let done = 0;
  while (done < into.length) {
    const read = await source.read(into.subarray(done), position + done);
    if (read <= 0) break;
    done += read;
  }
  into.fill(0, done);
  return into;
}

/** Walks a piece chunk by chunk: a payload run that matches an unallocated template is skipped whole. */
class PieceScanner {
  /** templates[v]: `period` entries of value v (0 to 3), made when first needed. */
  private readonly templates: Array<Uint8Array | undefined> = [];

  constructor(private readonly period: number) {}

  scan(bytes: Uint8Array, first: number, visit: VisitEntry): void {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    const n = bytes.length / 8;
    let k = 0;
    while (k < n) {
      const bitmap = this.period - 1 - ((first + k) % this.period);
      const runEnd = Math.min(n, k + bitmap);
      if (!this.isUnallocatedRun(bytes, view, k, runEnd)) this.visitRun(view, first, k, runEnd, visit);
      if (runEnd < n) visit(first + runEnd, view.getUint32(runEnd * 8, true), view.getUint32(runEnd * 8 + 4, true));
      k = runEnd + 1;
    }
  }

  private visitRun(view: DataView, first: number, from: number, to: number, visit: VisitEntry): void {
    for (let k = from; k < to; k++) {
      const low = view.getUint32(k * 8, true);
      const high = view.getUint32(k * 8 + 4, true);
      if (high === 0 && low <= UNALLOCATED_AT_ZERO) continue;
      visit(first + k, low, high);
    }
  }

  /** Whether entries [from, to) are all one and the same unallocated value (memcmp against a template). */
  private isUnallocatedRun(bytes: Uint8Array, view: DataView, from: number, to: number): boolean {
    if (from === to) return true;
    const low = view.getUint32(from * 8, true);
    if (view.getUint32(from * 8 + 4, true) !== 0 || low > UNALLOCATED_AT_ZERO) return false;
    const template = this.template(low);
    return Buffer.compare(bytes.subarray(from * 8, to * 8), template.subarray(0, (to - from) * 8)) === 0;
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
