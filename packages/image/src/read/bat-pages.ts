// A BAT too large to hold, read a page at a time. A 64 TiB disk of 1 MiB
// blocks has a 512 MiB BAT; an image opened read-only pages it instead, so
// memory stays bounded whatever the disk's size. Pages live in a small
// least-recently-used cache and a window is a copy of the entries asked for,
// so no caller ever holds a page: an evicted page's buffer is reused for the
// next page read. (Allocating a fresh 1 MiB buffer per page read instead left
// a 64 TiB walk at 170 MB of RSS: freed buffers stay with the allocator.)
import { type BatGeometry, BatTable } from "@vhdx/bat";
import { MiB } from "@vhdx/structs";
import { PlacementScan, type CorruptEntries } from "./block-integrity.js";
import type { Extent } from "../open/layout.js";
import { type RandomAccessSource, readExactly } from "../sources/source.js";

/** Pages the placement scan reads ahead of the one it is scanning. */
const SCAN_READ_AHEAD = 2;

export interface BatPagesOptions {
  /** Bytes per page, a multiple of 8 (default 1 MiB). */
  pageBytes?: number;
  /** Pages kept (default 16). */
  cachedPages?: number;
}

export class BatPages {
  private readonly pageBytes: number;
  private readonly pageEntries: number;
  private readonly cachedPages: number;
  /** Page number -> bytes, least recently used first. */
  private readonly pages = new Map<number, Promise<Uint8Array>>();
  /** Buffers of evicted pages, for the next reads. */
  private readonly spare: Uint8Array[] = [];

  constructor(
    private readonly source: RandomAccessSource,
    private readonly geometry: BatGeometry,
    private readonly regionFileOffset: number,
    options: BatPagesOptions = {},
  ) {
    this.pageBytes = options.pageBytes ?? MiB;
    this.pageEntries = this.pageBytes / 8;
    this.cachedPages = Math.max(2, options.cachedPages ?? 16);
  }

  /** A table holding entries [first, end) (first < end <= the entry count), copied out of the pages. */
  async window(first: number, end: number): Promise<BatTable> {
    const bytes = new Uint8Array((end - first) * 8);
    for (let page = Math.floor(first / this.pageEntries); page * this.pageEntries < end; page++) {
      const pageFirst = page * this.pageEntries;
      const from = Math.max(first, pageFirst);
      const to = Math.min(end, pageFirst + this.pageEntries);
      const pageBytes = await this.page(page);
      // Copied before anything else runs: an evicted page's buffer is only reused by a later read.
      bytes.set(pageBytes.subarray((from - pageFirst) * 8, (to - pageFirst) * 8), (from - first) * 8);
    }
    return BatTable.window(bytes, this.geometry, { firstEntry: first, regionFileOffset: this.regionFileOffset });
  }

  /**
   * The block placement scan (block-integrity.ts) over the whole BAT, a page
   * at a time and bypassing the cache; a second pass only when blocks overlap.
   */
  async scanPlacement(fileSize: number, structures: readonly Extent[]): Promise<CorruptEntries> {
    const scan = new PlacementScan(fileSize, structures);
    await this.forEachPage((table) => scan.add(table));
    if (scan.clashed) await this.forEachPage((table) => scan.refuseFirstOwners(table));
    return scan.corrupt;
  }

  /** Every page in order, uncached ones read two ahead into three buffers of their own. */
  private async forEachPage(visit: (table: BatTable) => void): Promise<void> {
    const pageCount = Math.ceil(this.geometry.batEntryCount / this.pageEntries);
    const buffers = Array.from({ length: SCAN_READ_AHEAD + 1 }, () => new Uint8Array(this.pageBytes));
    const reads: Array<Promise<Uint8Array>> = [];
    const start = (page: number) => {
      if (page >= pageCount) return;
      const read = this.pages.has(page) ? this.page(page) : this.readPage(page, buffers[page % buffers.length]!);
      read.catch(() => undefined); // awaited in turn below
      reads[page] = read;
    };
    for (let page = 0; page < SCAN_READ_AHEAD; page++) start(page);
    for (let page = 0; page < pageCount; page++) {
      const bytes = await reads[page]!;
      delete reads[page];
      start(page + SCAN_READ_AHEAD);
      visit(
        BatTable.window(bytes, this.geometry, {
          firstEntry: page * this.pageEntries,
          regionFileOffset: this.regionFileOffset,
        }),
      );
    }
  }

  private page(page: number): Promise<Uint8Array> {
    let bytes = this.pages.get(page);
    if (bytes !== undefined) {
      this.pages.delete(page); // re-inserted below as the most recently used
    } else {
      bytes = this.readPage(page, this.spare.pop() ?? new Uint8Array(this.pageBytes));
      bytes.catch(() => this.pages.delete(page));
      if (this.pages.size >= this.cachedPages) this.evictOldest();
    }
    this.pages.set(page, bytes);
    return bytes;
  }

  private evictOldest(): void {
    const [page, bytes] = this.pages.entries().next().value!;
    this.pages.delete(page);
    bytes.then(
      (buffer) => this.spare.push(buffer),
      () => undefined,
    );
  }

  /** Reads the page's entries into `into`; the part past the BAT's last entry stays zero. */
  private async readPage(page: number, into: Uint8Array): Promise<Uint8Array> {
    const entries = Math.min(this.pageEntries, this.geometry.batEntryCount - page * this.pageEntries);
    into.fill(0, entries * 8);
    await readExactly(this.source, into.subarray(0, entries * 8), this.regionFileOffset + page * this.pageBytes, "BAT");
    return into;
  }
}
