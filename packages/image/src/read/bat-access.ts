// How an image gets at its BAT: the whole table, read on first use and then
// held, or (for a read-only image with a BAT over LARGEST_WHOLE_BAT) pages of
// it (bat-pages.ts). Either way every entry passes the block placement scan
// (block-integrity.ts) before a read uses one.
import { type BatGeometry, BatTable, payloadBatIndex, sectorBitmapBatIndex } from "@vhdx/bat";
import { MiB } from "@vhdx/structs";
import type { Layout } from "../open/layout.js";
import { type RandomAccessSource, readExactly } from "../sources/source.js";
import { BatPages } from "./bat-pages.js";
import { type CorruptEntries, scanBlockPlacement } from "./block-integrity.js";

/**
 * A read-only image holds a BAT up to this size whole; a larger one (a
 * 64 TiB disk of 1 MiB blocks has 512 MiB) is read a page at a time, so reads
 * stay within bounded memory. A writable image always holds its BAT whole.
 */
export const LARGEST_WHOLE_BAT = 32 * MiB;

export interface BatEntries {
  table: BatTable;
  /** BAT index -> why a read must refuse that entry. */
  corrupt: CorruptEntries;
}

export class BatAccess {
  private whole: Promise<BatEntries> | null = null;
  private paged: { pages: BatPages; corrupt: Promise<CorruptEntries> } | null = null;

  constructor(
    private readonly source: RandomAccessSource,
    private readonly geometry: BatGeometry,
    private readonly layout: Layout,
    private readonly fileSize: number,
    private readonly writable: boolean,
  ) {}

  /** The whole table, read once and held. */
  loadWhole(): Promise<BatEntries> {
    this.whole ??= (async () => {
      const region = this.layout.bat;
      // Whole 4 KiB pages (the region is a multiple of 1 MiB), so a writer can log a page as it is.
      const bytes = new Uint8Array(Math.ceil(this.geometry.batByteLength / 4096) * 4096);
      await readExactly(this.source, bytes, region.fileOffset, "BAT");
      const table = new BatTable(bytes, this.geometry, { regionFileOffset: region.fileOffset });
      return { table, corrupt: scanBlockPlacement(table, this.fileSize, this.layout.extents) };
    })();
    return this.whole;
  }

  /** The entries a read of [offset, offset + length) of the virtual disk uses (length above 0). */
  forRange(offset: number, length: number): Promise<BatEntries> {
    const geometry = this.geometry;
    const lastChunk = Math.floor(Math.floor((offset + length - 1) / geometry.blockSize) / geometry.chunkRatio);
    return this.entries(
      payloadBatIndex(geometry, Math.floor(offset / geometry.blockSize)),
      sectorBitmapBatIndex(geometry, lastChunk) + 1,
    );
  }

  /** A table holding entries [first, end) (clamped to the BAT). */
  async entries(first: number, end: number): Promise<BatEntries> {
    const paged = this.pagedBat();
    if (paged === null) return this.loadWhole();
    const count = this.geometry.batEntryCount;
    const corrupt = await paged.corrupt;
    const from = Math.min(first, count - 1);
    return { table: await paged.pages.window(from, Math.max(from + 1, Math.min(end, count))), corrupt };
  }

  async corrupt(): Promise<CorruptEntries> {
    const paged = this.pagedBat();
    return paged === null ? (await this.loadWhole()).corrupt : paged.corrupt;
  }

  /** Pages, when the BAT is paged: read-only, over LARGEST_WHOLE_BAT, and not already held whole. */
  private pagedBat(): { pages: BatPages; corrupt: Promise<CorruptEntries> } | null {
    if (this.paged !== null) return this.paged;
    if (this.writable || this.whole !== null || this.geometry.batByteLength <= LARGEST_WHOLE_BAT) return null;
    const pages = new BatPages(this.source, this.geometry, this.layout.bat.fileOffset);
    const corrupt = pages.scanPlacement(this.fileSize, this.layout.extents);
    corrupt.catch(() => undefined); // awaited by every use; a failure is theirs to report
    this.paged = { pages, corrupt };
    return this.paged;
  }
}
