// How an image gets at its BAT: the whole table, read on first use and then
// held, or pages of it (bat-pages.ts): a read-only image with a BAT over
// LARGEST_WHOLE_BAT and every writable image page it, so memory follows the
// pages used, not the disk's size. Either way every entry passes the block
// placement scan (block-integrity.ts) before a read or a write uses one.
// A writer holds the pages it works on and changes entries in place (see
// the second half); reads of the same image see those changes.
import { type BatGeometry, BatTable, payloadBatIndex, sectorBitmapBatIndex } from "@vhdx/bat";
import { MiB } from "@vhdx/structs";
import type { Layout } from "../open/layout.js";
import { type RandomAccessSource, readExactly } from "../sources/source.js";
import { BatPages, type Release, type WindowScratch } from "./bat-pages.js";
import { type CorruptEntries, scanBlockPlacement } from "./block-integrity.js";

/**
 * A read-only image holds a BAT up to this size whole; a larger one (a
 * 64 TiB disk of 1 MiB blocks has 512 MiB) is read a page at a time, so reads
 * stay within bounded memory. A writable image always pages its BAT, until
 * something asks for the whole table (VhdxImage.bat(): compact, resize).
 */
export const LARGEST_WHOLE_BAT = 32 * MiB;

export interface BatEntries {
  table: BatTable;
  /** BAT index -> why a read must refuse that entry. */
  corrupt: CorruptEntries;
}

export type { Release } from "./bat-pages.js";

const NO_RELEASE: Release = () => undefined;

export class BatAccess {
  private whole: Promise<BatEntries> | null = null;
  /** The whole table once read, for the writer's synchronous lookups. */
  private wholeLoaded: BatEntries | null = null;
  private paged: { pages: BatPages; corrupt: Promise<CorruptEntries> } | null = null;

  constructor(
    private readonly source: RandomAccessSource,
    private readonly geometry: BatGeometry,
    private readonly layout: Layout,
    private readonly fileSize: number,
    private readonly writable: boolean,
  ) {}

  /**
   * The whole table, read once and held. When pages were read before (a
   * writable image), their contents win over the file's: they may hold
   * changes not yet in the file. From then on the pages are dropped.
   */
  loadWhole(): Promise<BatEntries> {
    this.whole ??= (async () => {
      // Whole 4 KiB pages (the region is a multiple of 1 MiB), so a writer can log a page as it is.
      const bytes = new Uint8Array(Math.ceil(this.geometry.batByteLength / 4096) * 4096);
      await readExactly(this.source, bytes, this.layout.bat.fileOffset, "BAT");
      const table = new BatTable(bytes, this.geometry, { regionFileOffset: this.layout.bat.fileOffset });
      const paged = this.paged;
      if (paged === null) {
        this.wholeLoaded = { table, corrupt: scanBlockPlacement(table, this.fileSize, this.layout.extents) };
        return this.wholeLoaded;
      }
      // The scan of the pages counts, not one of this table: its blocks allocated since lie past fileSize.
      const corrupt = await paged.corrupt;
      for (const page of await paged.pages.residentTables()) {
        bytes.set(
          page.bytes.subarray(0, Math.min(page.bytes.length, bytes.length - page.firstEntry * 8)),
          page.firstEntry * 8,
        );
      }
      this.wholeLoaded = { table, corrupt };
      this.paged = null;
      return this.wholeLoaded;
    })();
    return this.whole;
  }

  /** The entries a read of [offset, offset + length) of the virtual disk uses (length above 0). */
  forRange(offset: number, length: number, scratch?: WindowScratch): Promise<BatEntries> {
    const { first, end } = this.blockEntries(
      Math.floor(offset / this.geometry.blockSize),
      Math.floor((offset + length - 1) / this.geometry.blockSize),
    );
    return this.entries(first, end, scratch);
  }

  /** A table holding entries [first, end) (clamped to the BAT); a paged window is copied into `scratch` when given. */
  async entries(first: number, end: number, scratch?: WindowScratch): Promise<BatEntries> {
    const paged = this.pagedBat();
    if (paged === null) return this.loadWhole();
    const count = this.geometry.batEntryCount;
    const corrupt = await paged.corrupt;
    const from = Math.min(first, count - 1);
    return { table: await paged.pages.window(from, Math.max(from + 1, Math.min(end, count)), scratch), corrupt };
  }

  async corrupt(): Promise<CorruptEntries> {
    const paged = this.pagedBat();
    return paged === null ? (await this.loadWhole()).corrupt : paged.corrupt;
  }

  // What a writer uses: entries at hand while it holds them, changed in place.

  /**
   * Keeps the entries of payload blocks [firstBlock, lastBlock] and of their
   * chunks' sector bitmaps at hand until the returned release is called:
   * meanwhile at() answers for them at once and setEntry() changes them.
   */
  holdBlocks(firstBlock: number, lastBlock: number): Promise<Release> {
    const { first, end } = this.blockEntries(firstBlock, lastBlock);
    return this.hold(first, end);
  }

  /** Keeps entries [first, end) at hand until the returned release is called. */
  async hold(first: number, end: number): Promise<Release> {
    const paged = this.pagedBat();
    if (paged === null) {
      await this.loadWhole();
      return NO_RELEASE;
    }
    await paged.corrupt;
    return paged.pages.hold(first, end);
  }

  /** The live table holding entry `index`, which must be held: the whole table, or its page. */
  at(index: number): BatTable {
    if (this.wholeLoaded !== null) return this.wholeLoaded.table;
    if (this.paged === null) throw new Error(`internal: BAT entry ${index} used before it was held`);
    return this.paged.pages.table(index);
  }

  /** Changes a held entry; a changed page stays in memory until committed(). */
  setEntry(index: number, state: number, fileOffsetMB: number): void {
    if (this.wholeLoaded !== null) this.wholeLoaded.table.setEntry(index, state, fileOffsetMB);
    else if (this.paged !== null) this.paged.pages.setEntry(index, state, fileOffsetMB);
    else throw new Error(`internal: BAT entry ${index} changed before it was held`);
  }

  /** A copy of 4 KiB page `page` of the region, which holds a change (so it is in memory). */
  pageCopy(page: number): Uint8Array {
    const index = (page * 4096) / 8;
    const table = this.at(index);
    const start = (index - table.firstEntry) * 8;
    return table.bytes.slice(start, start + 4096);
  }

  /** Every change is in the file: changed pages may be evicted again. */
  committed(): void {
    this.paged?.pages.committed();
  }

  /** Pages with changes not in the file yet (0 when the table is whole). */
  get changedPages(): number {
    return this.paged?.pages.changedPages ?? 0;
  }

  /** Entries [first, end) of payload blocks [firstBlock, lastBlock] and their chunks' sector bitmaps. */
  private blockEntries(firstBlock: number, lastBlock: number): { first: number; end: number } {
    const geometry = this.geometry;
    const lastChunk = Math.floor(lastBlock / geometry.chunkRatio);
    return {
      first: payloadBatIndex(geometry, firstBlock),
      end: Math.min(geometry.batEntryCount, sectorBitmapBatIndex(geometry, lastChunk) + 1),
    };
  }

  /** Pages, when the BAT is paged: writable or over LARGEST_WHOLE_BAT, and not already held whole. */
  private pagedBat(): { pages: BatPages; corrupt: Promise<CorruptEntries> } | null {
    if (this.paged !== null) return this.paged;
    if (this.whole !== null) return null;
    if (!this.writable && this.geometry.batByteLength <= LARGEST_WHOLE_BAT) return null;
    const pages = new BatPages(this.source, this.geometry, this.layout.bat.fileOffset, {
      wholeSectors: this.writable,
    });
    const corrupt = pages.scanPlacement(this.fileSize, this.layout.extents);
    corrupt.catch(() => undefined); // awaited by every use; a failure is theirs to report
    this.paged = { pages, corrupt };
    return this.paged;
  }
}
