// 7-Zip's view of a corpus image: `7zz t` must find no error or warning and
// open the whole chain, and `7zz x -so` must write exactly the expected bytes
// (compared whole up to a size, beyond it in the ranges that hold data, the
// rest drained unread: 7-Zip cannot read a range, only write the whole disk).
// 7-Zip finds parents only through the locator names, inside the folder of the
// image it is given, so a chain whose parents live elsewhere is shown to it
// through links named as the locators name them (sevenZipChainPath).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sevenZipChainPath, sevenZipExtract, sevenZipTest } from "@vhdx-tools/oracles";
import type { CorpusImage } from "../corpus/corpus-image.js";
import type { Comparison } from "../results.js";
import { mergeRanges } from "../corpus/workload.js";
import { type CompareOptions, type ReadWindow, compareViews, wholeDisk } from "./compare-bytes.js";
import { withRawView } from "./views.js";

/** `7zz t`: no error, no warning, and every level of the chain opened. */
export async function sevenZipTested(entry: CorpusImage): Promise<Comparison> {
  const result = await withSevenZipPath(entry, async (path) => sevenZipTest(path));
  const mismatches = result.problems.map((problem) => `7zz t: ${problem}`);
  const levels = entry.parents.length + 1;
  if (result.ok && result.levels !== levels)
    mismatches.push(`7zz t opened ${result.levels} files of a chain of ${levels}`);
  return { oracle: "7zz t", image: entry.name, bytesCompared: 0, mismatches };
}

const MiB = 1024 * 1024;

export interface SevenZipOptions extends CompareOptions {
  /** Disks up to this size are compared whole, larger ones in their data ranges and first and last MiB (default 1 GiB). */
  wholeLimit?: number;
}

/** `7zz x -so` against the image's expected contents, window by window as 7-Zip writes them. */
export async function sevenZipAgainstReference(entry: CorpusImage, options: SevenZipOptions): Promise<Comparison> {
  const size = entry.virtualSize;
  const edge = Math.min(MiB, size);
  const ranges =
    size <= (options.wholeLimit ?? 1024 * MiB)
      ? wholeDisk(size)
      : mergeRanges([[0, edge], ...entry.focus, [size - edge, edge]]);
  const result = await withSevenZipPath(entry, async (path) => {
    const output = new SequentialView(sevenZipExtract(path));
    try {
      const compared = await withRawView(entry.expected.path, entry.virtualSize, (expected) =>
        compareViews(ranges, expected, output.read, { ours: entry.expected.oracle, theirs: "7zz x" }, options),
      );
      const extra = await output.rest(size);
      if (extra > 0) compared.mismatches.push(`7zz x wrote ${extra} bytes past the end of the ${size}-byte disk`);
      return compared;
    } finally {
      await output.close();
    }
  });
  return { oracle: "7zz x", image: entry.name, ...result };
}

/** Runs `body` with the path 7-Zip must be given for the image, in a scratch folder removed afterwards. */
async function withSevenZipPath<T>(entry: CorpusImage, body: (path: string) => Promise<T>): Promise<T> {
  const scratch = mkdtempSync(join(tmpdir(), "vhdx-7zz-"));
  try {
    return await body(sevenZipChainPath(entry.path, entry.parents, scratch));
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** A stream of chunks read as a ReadWindow whose offsets must come in order; gaps are drained unread. */
class SequentialView {
  private position = 0;
  private pending: Uint8Array = new Uint8Array(0);

  constructor(private readonly chunks: AsyncGenerator<Uint8Array>) {}

  readonly read: ReadWindow = async (target, offset) => {
    if (offset < this.position) throw new Error(`7zz x: asked for offset ${offset}, already at ${this.position}`);
    await this.skipTo(offset);
    for (let filled = 0; filled < target.length; ) {
      const piece = await this.take(target.length - filled);
      target.set(piece, filled);
      filled += piece.length;
      this.position += piece.length;
    }
  };

  /** Drains to the end (which throws when 7zz failed); returns the bytes past `size`. */
  async rest(size: number): Promise<number> {
    let end = this.position + this.pending.length;
    this.pending = new Uint8Array(0);
    for await (const chunk of this.chunks) end += chunk.length;
    if (end < size) throw new Error(`7zz x wrote only ${end} bytes`);
    return end - size;
  }

  private async skipTo(offset: number): Promise<void> {
    while (this.position < offset) this.position += (await this.take(offset - this.position)).length;
  }

  /** Up to `most` bytes of the stream, at least one. */
  private async take(most: number): Promise<Uint8Array> {
    if (this.pending.length === 0) {
      const next = await this.chunks.next();
      if (next.done) throw new Error(`7zz x wrote only ${this.position} bytes`);
      this.pending = next.value;
    }
    const piece = this.pending.subarray(0, Math.min(most, this.pending.length));
    this.pending = this.pending.subarray(piece.length);
    return piece;
  }

  /** Stops 7zz if it is still writing (a comparison that ended early). */
  async close(): Promise<void> {
    await this.chunks.return(undefined);
  }
}
