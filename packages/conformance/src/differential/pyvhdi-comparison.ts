// Our reader against python3-libvhdi's reads, with the chain's parents handed
// to libvhdi. Small disks are compared whole; large sparse ones in the ranges
// that hold data (the corpus image's focus) plus the first and last MiB, since
// libvhdi's reads come back through a pipe.
import { pyvhdiRead } from "@vhdx-tools/oracles";
import type { VhdxImage } from "@vhdx/image";
import type { CorpusImage } from "../corpus/corpus-image.js";
import { mergeRanges } from "../corpus/workload.js";
import type { Comparison } from "../results.js";
import { type ByteComparison, type CompareOptions, compareViews } from "./compare-bytes.js";
import { readerView } from "./views.js";

const MiB = 1024 * 1024;
/** Bytes fetched from libvhdi per Python process. */
const BATCH = 64 * MiB;

export interface PyvhdiOptions extends CompareOptions {
  /** Disks up to this size are compared whole (default 256 MiB). */
  wholeLimit?: number;
}

export async function readerAgainstPyvhdi(
  image: VhdxImage,
  entry: CorpusImage,
  options: PyvhdiOptions,
): Promise<Comparison> {
  const total: ByteComparison = { bytesCompared: 0, mismatches: [] };
  for (const batch of batches(pyvhdiRanges(entry, options.wholeLimit ?? 256 * MiB))) {
    const bytes = pyvhdiRead(entry.path, batch, entry.parents);
    const at = new Map<number, number>();
    let position = 0;
    for (const [offset, length] of batch) {
      at.set(offset, position);
      position += length;
    }
    const theirs = async (target: Uint8Array, offset: number) => {
      const start = startOf(batch, at, offset);
      target.set(bytes.subarray(start, start + target.length));
    };
    const result = await compareViews(
      batch,
      readerView(image),
      theirs,
      { ours: "our reader", theirs: "pyvhdi" },
      { ...options, window: BATCH },
    );
    total.bytesCompared += result.bytesCompared;
    total.mismatches.push(...result.mismatches);
  }
  return { oracle: "pyvhdi", image: entry.name, ...total };
}

/** Where virtual `offset` sits in the fetched bytes of `batch`. */
function startOf(
  batch: ReadonlyArray<readonly [number, number]>,
  at: ReadonlyMap<number, number>,
  offset: number,
): number {
  for (const [start, length] of batch) {
    if (offset >= start && offset < start + length) return at.get(start)! + (offset - start);
  }
  throw new Error(`offset ${offset} is in no fetched range`);
}

function pyvhdiRanges(entry: CorpusImage, wholeLimit: number): Array<[number, number]> {
  const size = entry.virtualSize;
  if (size <= wholeLimit) return [[0, size]];
  const edge = Math.min(MiB, size);
  return mergeRanges([[0, edge], ...entry.focus, [size - edge, edge]]);
}

/** Ranges cut into pieces of at most BATCH bytes, grouped into batches of at most BATCH bytes. */
function batches(ranges: ReadonlyArray<readonly [number, number]>): Array<Array<[number, number]>> {
  const groups: Array<Array<[number, number]>> = [];
  let group: Array<[number, number]> = [];
  let bytes = 0;
  for (const [start, length] of ranges) {
    for (let offset = start; offset < start + length; offset += BATCH) {
      const piece = Math.min(BATCH, start + length - offset);
      if (bytes + piece > BATCH && group.length > 0) {
        groups.push(group);
        group = [];
        bytes = 0;
      }
      group.push([offset, piece]);
      bytes += piece;
    }
  }
  if (group.length > 0) groups.push(group);
  return groups;
}
