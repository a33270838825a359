// Reading a run of a partially present block of a differencing disk
// (MS-VHDX 2.6.4, sector bitmaps): its sectors alternate between this file
// and the parent. Piece by piece, a block written every other sector costs a
// thousand source reads each side (a thousand HTTP requests); instead the
// parent is read once over the span its pieces cover, and this file's pieces
// with one read per MAX_PAYLOAD_READ of the span they cover. The price is
// reading sectors that are then overwritten, which costs far less than a
// round trip.
import type { ReadRun } from "@vhdx/bat";
import { MAX_PAYLOAD_READ } from "./payload-reads.js";

export interface PartialRunIo {
  /** Fills `target` from this file at `fileOffset`. */
  readData(target: Uint8Array, fileOffset: number): Promise<void>;
  /** Fills `target` with what the parent holds at virtual `offset`. */
  readParent(target: Uint8Array, offset: number): Promise<void>;
}

/** Fills `target` (the bytes of `run`) from `pieces`, the data and parent runs splitPartialRun made of it. */
export async function readPartialRun(
  run: ReadRun,
  pieces: readonly ReadRun[],
  target: Uint8Array,
  io: PartialRunIo,
): Promise<void> {
  const at = (piece: ReadRun) => piece.virtualOffset - run.virtualOffset;
  const fromParent = pieces.filter((piece) => piece.kind === "parent");
  const first = fromParent[0];
  const last = fromParent[fromParent.length - 1];
  if (first !== undefined && last !== undefined) {
    await io.readParent(target.subarray(at(first), at(last) + last.length), first.virtualOffset);
  }
  for (const group of spans(pieces.filter((piece) => piece.kind === "data"))) {
    const start = group[0]!;
    const end = group[group.length - 1]!;
    if (group.length === 1) {
      await io.readData(target.subarray(at(start), at(start) + start.length), start.fileOffset);
      continue;
    }
    const span = new Uint8Array(end.fileOffset + end.length - start.fileOffset);
    await io.readData(span, start.fileOffset);
    for (const piece of group) {
      const from = piece.fileOffset - start.fileOffset;
      target.set(span.subarray(from, from + piece.length), at(piece));
    }
  }
}

/** Data pieces in groups that each span at most MAX_PAYLOAD_READ bytes of the file (a longer piece alone). */
function spans(data: readonly ReadRun[]): ReadRun[][] {
  const groups: ReadRun[][] = [];
  for (const piece of data) {
    const group = groups[groups.length - 1];
    if (group !== undefined && piece.fileOffset + piece.length - group[0]!.fileOffset <= MAX_PAYLOAD_READ)
      group.push(piece);
    else groups.push([piece]);
  }
  return groups;
}
