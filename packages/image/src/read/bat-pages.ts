// A BAT too large to hold, read a page at a time. A 64 TiB disk of 1 MiB
// blocks has a 512 MiB BAT; an image pages it instead, so memory stays
// bounded whatever the disk's size. Pages live in a small least-recently-used
// cache. A reader's window is a copy of the entries asked for, so it never
// holds a page: an evicted page's buffer is reused for the next page read.
// (Allocating a fresh 1 MiB buffer per page read instead left a 64 TiB walk
// at 170 MB of RSS: freed buffers stay with the allocator.) A writer holds the
// pages it works on (hold) and changes entries in them in place; a changed
// page stays in memory until its change is in the file (committed).
import { type BatGeometry, BatTable } from "@vhdx/bat";
import { MiB } from "@vhdx/structs";
import { PlacementScan, type CorruptEntries } from "./block-integrity.js";
import type { Extent } from "../open/layout.js";
import { type RandomAccessSource, readExactly } from "../sources/source.js";

/** Pages the placement scan reads ahead of the one it is scanning. */
const SCAN_READ_AHEAD = 2;

export interface BatPagesOptions {
  /** Bytes per page, a multiple of 4 KiB (default 1 MiB). */
  pageBytes?: number;
  /** Pages kept besides the held and changed ones (default 16). */
  cachedPages?: number;
  /**
   * Read the last page up to the next 4 KiB past the BAT's last entry (the
   * region goes on there), so a writer can log whole 4 KiB pages as they are.
   */
  wholeSectors?: boolean;
}

/** A buffer a walk keeps between windows, which are copied into it (grown as needed). */
export interface WindowScratch {
  bytes: Uint8Array | null;
}

/** Ends a hold: the pages may be evicted again (unless changed). */
export type Release = () => void;

export class BatPages {
  readonly pageBytes: number;
  private readonly pageEntries: number;
  private readonly cachedPages: number;
  /** Bytes of the region that pages hold: the entries, or up to the next 4 KiB (wholeSectors). */
  private readonly heldBytes: number;
  /** Page number -> its entries, least recently used first. */
  private readonly pages = new Map<number, Promise<BatTable>>();
  /** The pages whose read completed, for synchronous lookups by a writer. */
  private readonly resident = new Map<number, BatTable>();
  /** Page number -> holds on it; a held page is never evicted. */
  private readonly holds = new Map<number, number>();
  /** Pages with changes not yet in the file; never evicted. */
  private readonly changed = new Set<number>();
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
    const entryBytes = geometry.batEntryCount * 8;
    this.heldBytes = options.wholeSectors ? Math.ceil(entryBytes / 4096) * 4096 : entryBytes;
  }

  /** Pages in memory now (held, changed and cached). */
  get residentPages(): number {
    return this.pages.size;
  }

  /** Pages with changes not yet committed. */
  get changedPages(): number {
    return this.changed.size;
  }

  /**
   * A table holding entries [first, end) (first < end <= the entry count),
   * copied out of the pages: into a new array, or into `scratch`'s buffer.
   */
  async window(first: number, end: number, scratch?: WindowScratch): Promise<BatTable> {
    const length = (end - first) * 8;
    let bytes: Uint8Array;
    if (scratch === undefined) {
      bytes = new Uint8Array(length);
    } else {
      if (scratch.bytes === null || scratch.bytes.length < length) scratch.bytes = new Uint8Array(length);
      bytes = scratch.bytes.subarray(0, length);
    }
    for (let page = this.pageOf(first); page * this.pageEntries < end; page++) {
      const pageFirst = page * this.pageEntries;
      const from = Math.max(first, pageFirst);
      const to = Math.min(end, pageFirst + this.pageEntries);
      const table = await this.page(page);
      // Copied before anything else runs: an evicted page's buffer is only reused by a later read.
      bytes.set(table.bytes.subarray((from - pageFirst) * 8, (to - pageFirst) * 8), (from - first) * 8);
    }
    return BatTable.window(bytes, this.geometry, { firstEntry: first, regionFileOffset: this.regionFileOffset });
  }

  /**
   * Reads the pages of entries [first, end) and keeps them until the returned
   * release is called: meanwhile table() answers for those entries at once.
   * Holds nest (each page counts its holds).
   */
  async hold(first: number, end: number): Promise<Release> {
    const held: number[] = [];
    const release = () => {
      for (const page of held.splice(0)) this.unhold(page);
    };
    try {
      for (let page = this.pageOf(first); page * this.pageEntries < end; page++) {
        this.holds.set(page, (this.holds.get(page) ?? 0) + 1);
        held.push(page);
        await this.page(page);
      }
    } catch (error) {
      release();
      throw error;
    }
    return release;
  }

  /** The page holding entry `index`, which must be held (or changed): its live entries, not a copy. */
  table(index: number): BatTable {
    const table = this.resident.get(this.pageOf(index));
    if (table === undefined) throw new Error(`internal: BAT entry ${index} is not in a held page`);
    return table;
  }

  /** Changes entry `index` (in a held page); its page stays in memory until committed(). */
  setEntry(index: number, state: number, fileOffsetMB: number): void {
    this.table(index).setEntry(index, state, fileOffsetMB);
    this.changed.add(this.pageOf(index));
  }

  /** Every change is in the file now: changed pages may be evicted again. */
  committed(): void {
    this.changed.clear();
    this.evictIfOver();
  }

  /** The pages read so far, in no order, after every pending read has settled. */
  async residentTables(): Promise<BatTable[]> {
    await Promise.allSettled([...this.pages.values()]);
    return [...this.resident.values()];
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
    const reads: Array<Promise<BatTable>> = [];
    const start = (page: number) => {
      if (page >= pageCount) return;
      const read = this.pages.has(page) ? this.page(page) : this.readPage(page, buffers[page % buffers.length]!);
      read.catch(() => undefined); // awaited in turn below
      reads[page] = read;
    };
    for (let page = 0; page < SCAN_READ_AHEAD; page++) start(page);
    for (let page = 0; page < pageCount; page++) {
      const table = await reads[page]!;
      delete reads[page];
      start(page + SCAN_READ_AHEAD);
      visit(table);
    }
  }

  private pageOf(index: number): number {
    return Math.floor(index / this.pageEntries);
  }

  private page(page: number): Promise<BatTable> {
    let table = this.pages.get(page);
    if (table !== undefined) {
      this.pages.delete(page); // re-inserted below as the most recently used
      this.pages.set(page, table);
      return table;
    }
    table = this.readPage(page, this.spare.pop() ?? new Uint8Array(this.pageBytes));
    this.pages.set(page, table);
    table.then(
      (read) => {
        if (this.pages.get(page) === table) this.resident.set(page, read);
      },
      () => {
        if (this.pages.get(page) === table) this.pages.delete(page);
      },
    );
    this.evictIfOver();
    return table;
  }

  private unhold(page: number): void {
    const count = (this.holds.get(page) ?? 1) - 1;
    if (count > 0) {
      this.holds.set(page, count);
    } else {
      this.holds.delete(page);
      this.evictIfOver();
    }
  }

  /** Evicts the least recently used pages that are neither held nor changed, down to cachedPages of those. */
  private evictIfOver(): void {
    const pinned = (page: number) => this.holds.has(page) || this.changed.has(page);
    let kept = 0;
    for (const page of this.pages.keys()) if (!pinned(page)) kept++;
    for (const [page, table] of this.pages) {
      if (kept <= this.cachedPages) return;
      if (pinned(page)) continue;
      this.pages.delete(page);
      this.resident.delete(page);
      kept--;
      table.then(
        (read) => this.spare.push(read.bytes),
        () => undefined,
      );
    }
  }

  /** Reads the page's part of the region into `into`; the rest of the buffer is zeroed. */
  private async readPage(page: number, into: Uint8Array): Promise<BatTable> {
    const first = page * this.pageEntries;
    const length = Math.min(this.pageBytes, this.heldBytes - first * 8);
    into.fill(0, length);
    await readExactly(this.source, into.subarray(0, length), this.regionFileOffset + first * 8, "BAT");
    return BatTable.window(into, this.geometry, { firstEntry: first, regionFileOffset: this.regionFileOffset });
  }
}
