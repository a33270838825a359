// Writes to the virtual disk (MS-VHDX 2.5, 2.6, 3.1). Payload data is written
// in place; BAT entries and sector bitmaps change in memory and reach the file
// through the journal at flush() (or earlier, when too many bitmaps or BAT
// pages changed). The BAT is paged (read/bat-access.ts): each step holds the
// pages of the entries it uses, so memory follows the pages touched, not the
// disk's size.
// New blocks go at the end of the file, 1 MiB aligned, and the file grows over
// them, so whatever is not written reads as zeros; a block's first write runs
// while the file grows (claimSpace). In a differencing disk a new block holds
// only the sectors written (PARTIALLY_PRESENT, with its chunk's sector
// bitmap); the rest still reads from the parent. The primitives of compact,
// resize and merge are here too (see internal/maintenance.ts). Over 300
// lines: one writer whose write, flush and maintenance steps share its state.
import { type BatGeometry, payloadBatIndex, sectorBitmapBatIndex } from "@vhdx/bat";
import {
  MiB,
  PAYLOAD_BLOCK_FULLY_PRESENT,
  PAYLOAD_BLOCK_NOT_PRESENT,
  PAYLOAD_BLOCK_PARTIALLY_PRESENT,
  PAYLOAD_BLOCK_UNMAPPED,
  PAYLOAD_BLOCK_ZERO,
  SB_BLOCK_PRESENT,
  SECTOR_BITMAP_BLOCK_SIZE,
  VhdxError,
} from "@vhdx/structs";
import { randomGuid } from "@vhdx/guid";
import type { Layout } from "../open/layout.js";
import type { BatAccess } from "../read/bat-access.js";
import type { RandomAccessSource } from "../sources/source.js";
import { readExactly } from "../sources/source.js";
import type { CurrentHeader } from "./header-update.js";
import { MetadataJournal } from "./journal.js";

const PAGE = 4096;
const ZERO_CHUNK = MiB;
/** Shared and never written to: sources only read what they are given. */
let zeros: Uint8Array | null = null;

/** What the writer needs of its image. */
export interface WriterContext {
  source: RandomAccessSource;
  geometry: BatGeometry;
  layout: Layout;
  /** LeaveBlockAllocated: blocks keep their space (discard is ignored, zeros are written). */
  fixed: boolean;
  current: CurrentHeader;
  /** Told of every new current header (session start, LogGuid set and cleared). */
  onHeader(current: CurrentHeader): void;
  /** The image's BAT, which its reads use too. */
  bat: WriterBat;
  /** The chunk's cached bitmap, loaded from the file; pinned until flushed(). */
  sectorBitmap(chunk: number): Promise<Uint8Array>;
  /** Caches all-zero bits for the chunk, whose bitmap block was just allocated; pinned until flushed(). */
  freshSectorBitmap(chunk: number): void;
  /** Reads the parent's bytes (zeros past its end). */
  readParent(target: Uint8Array, offset: number): Promise<void>;
  /** Every change so far is in the file: cached bitmaps may be dropped again. */
  flushed(): void;
}

/** What a discard did, in bytes of the range asked for. */
export interface DiscardResult {
  /** Whole blocks that held space in the file and hold none now (compact gives it back). */
  freedBytes: number;
  /** Bytes that could not be freed (parts of blocks, a fixed disk) and were written as zeros. */
  zeroedBytes: number;
  /** Bytes that could not be freed and were left as they were (partial: "keep"). */
  keptBytes: number;
}

/** What the writer uses of BatAccess. */
type WriterBat = Pick<
  BatAccess,
  "corrupt" | "hold" | "holdBlocks" | "at" | "setEntry" | "pageCopy" | "committed" | "changedPages"
>;

/** More changed sector bitmaps than this (1 MiB each) and the writer flushes by itself. */
const MAX_DIRTY_BITMAPS = 64;
/** More changed BAT pages in memory than this (1 MiB each) and the writer flushes by itself. */
const MAX_CHANGED_BAT_PAGES = 16;
/** Blocks whose entries writeZeroes and discard hold at a time. */
const HELD_BLOCKS = 16384;

export class ImageWriter {
  private readonly journal: MetadataJournal;
  /** Entries the placement scan refuses, known from the first operation on; null before. */
  private corrupt: ReadonlyMap<number, string> | null = null;
  private sessionStarted = false;
  /** DataWriteGuid has been changed in this session (a session of metadata edits alone keeps it). */
  private dataChanged = false;
  private nextFree = -1;
  /** The file's size: known once nextFree is, and changed only by allocation here (or truncateFile, which forgets both). */
  private fileSize = -1;
  private readonly dirtyBatPages = new Set<number>();
  private readonly dirtyBitmapPages = new Map<number, Set<number>>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly context: WriterContext) {
    this.journal = new MetadataJournal(context.source, context.current, (current) => context.onHeader(current));
  }

  write(data: Uint8Array, offset: number): Promise<void> {
    return this.serially(async () => {
      await this.startSession();
      const { blockSize } = this.context.geometry;
      for (let at = offset; at < offset + data.length; ) {
        const end = Math.min(offset + data.length, (Math.floor(at / blockSize) + 1) * blockSize);
        await this.writeInBlock(data.subarray(at - offset, end - offset), at);
        at = end;
      }
      await this.flushIfMuchChanged();
    });
  }

  writeZeroes(offset: number, length: number): Promise<void> {
    return this.serially(async () => {
      await this.loadCorrupt();
      await this.forEachBlockPart(offset, length, (block, start, end) => this.zeroInBlock(block, start, end));
    });
  }

  /**
   * Whole blocks become UNMAPPED (read as zeros), or NOT_PRESENT in a
   * differencing disk (read from the parent again) with their sector bitmap
   * bits cleared in the same flush. What cannot be freed (parts of blocks,
   * every block of a fixed disk) is written as zeros when `partial` is
   * "zero" and left as it is when "keep"; the result says which bytes went
   * which way.
   */
  discard(offset: number, length: number, partial: "zero" | "keep"): Promise<DiscardResult> {
    return this.serially(async () => {
      await this.loadCorrupt();
      const result: DiscardResult = { freedBytes: 0, zeroedBytes: 0, keptBytes: 0 };
      await this.forEachBlockPart(offset, length, async (block, start, end, whole) => {
        if (whole && !this.context.fixed) {
          if (await this.freeBlock(block)) result.freedBytes += end - start;
        } else if (partial === "keep") {
          result.keptBytes += end - start;
        } else {
          await this.zeroInBlock(block, start, end);
          result.zeroedBytes += end - start;
        }
      });
      return result;
    });
  }

  /** Makes a held block UNMAPPED (NOT_PRESENT with no present sectors in a differencing disk); true when it held space. */
  private async freeBlock(block: number): Promise<boolean> {
    const state = this.payloadState(block);
    const heldSpace = state === PAYLOAD_BLOCK_FULLY_PRESENT || state === PAYLOAD_BLOCK_PARTIALLY_PRESENT;
    if (!this.context.geometry.hasParent) {
      if (!this.readsAsZeros(block)) await this.setPayloadEntry(block, PAYLOAD_BLOCK_UNMAPPED, 0);
      return heldSpace;
    }
    // libvhdi reads a NOT_PRESENT block's set bits as present sectors: clear them too.
    const bitsSet = await this.hasPresentBits(block);
    if (state !== PAYLOAD_BLOCK_NOT_PRESENT || bitsSet) {
      await this.startSession();
      if (bitsSet) await this.clearBlockBits(block);
      await this.setPayloadEntry(block, PAYLOAD_BLOCK_NOT_PRESENT, 0);
    }
    return heldSpace;
  }

  /** Whether any of the block's bits is set in its chunk's sector bitmap (false when the chunk has none). */
  private async hasPresentBits(block: number): Promise<boolean> {
    const { chunkRatio, sectorsPerBlock, batEntryCount } = this.context.geometry;
    const chunk = Math.floor(block / chunkRatio);
    const index = sectorBitmapBatIndex(this.context.geometry, chunk);
    if (index >= batEntryCount || this.context.bat.at(index).state(index) !== SB_BLOCK_PRESENT) return false;
    const bitmap = await this.context.sectorBitmap(chunk);
    const first = (block % chunkRatio) * sectorsPerBlock;
    for (let bit = first; bit < first + sectorsPerBlock; bit++) if ((bitmap[bit >>> 3]! >>> (bit & 7)) & 1) return true;
    return false;
  }

  /** writeZeroes' work for [start, end) of one held block. */
  private async zeroInBlock(block: number, start: number, end: number): Promise<void> {
    if (this.readsAsZeros(block)) return;
    const whole = start === block * this.context.geometry.blockSize && end - start === this.blockLength(block);
    if (whole && !this.context.fixed) return this.setPayloadEntry(block, PAYLOAD_BLOCK_ZERO, 0);
    zeros ??= new Uint8Array(ZERO_CHUNK);
    for (let at = start; at < end; at += ZERO_CHUNK) {
      await this.writeInBlock(zeros.subarray(0, Math.min(ZERO_CHUNK, end - at)), at);
    }
  }

  /**
   * Moves a payload or sector bitmap block to `newOffset` (1 MiB aligned,
   * space no structure or block uses, inside the file): its bytes are copied
   * and the BAT entry keeps its state but points at the copy from the next
   * flush on. A crash before that flush leaves the old place in use, intact.
   */
  relocateBlock(batIndex: number, newOffset: number, length: number): Promise<void> {
    return this.serially(async () => {
      await this.startSession();
      const release = await this.context.bat.hold(batIndex, batIndex + 1);
      try {
        await this.copyBlock(batIndex, newOffset, length);
      } finally {
        release();
      }
    });
  }

  /** relocateBlock's copy and BAT change, with the entry held. */
  private async copyBlock(batIndex: number, newOffset: number, length: number): Promise<void> {
    const oldOffset = this.context.bat.at(batIndex).fileOffset(batIndex);
    const buffer = new Uint8Array(Math.min(length, 8 * MiB));
    for (let done = 0; done < length; done += buffer.length) {
      const piece = buffer.subarray(0, Math.min(buffer.length, length - done));
      await readExactly(this.context.source, piece, oldOffset + done, "block");
      await this.context.source.write(piece, newOffset + done);
    }
    this.setEntry(batIndex, this.context.bat.at(batIndex).state(batIndex), newOffset);
  }

  /**
   * Writes whole 4 KiB pages of structures outside the BAT (region table
   * copies, metadata items) through the log, after every pending change is
   * flushed: one more metadata change a crash either applies whole or not.
   * `changesData` false: a change no reader of the virtual disk sees (user
   * metadata, the parent locator, the disk's ID), which keeps DataWriteGuid
   * and so the linkage of the image's children.
   */
  commitStructures(updates: readonly { fileOffset: number; data: Uint8Array }[], changesData = true): Promise<void> {
    return this.serially(async () => {
      await this.startSession(changesData);
      await this.flushNow();
      await this.journal.commit(updates.map((u) => ({ fileOffset: u.fileOffset, data: u.data.slice() })));
    });
  }

  /**
   * Cuts the file to `size` (past every structure and block still in use):
   * everything is flushed, the log records the new size, then the file is cut
   * and flushed, so a crash on either side of the cut replays cleanly.
   */
  truncateFile(size: number): Promise<void> {
    return this.serially(async () => {
      await this.startSession();
      await this.flushNow();
      await this.journal.recordFileSize(size);
      await this.context.source.truncate(size);
      await this.context.source.flush();
      this.nextFree = -1;
    });
  }

  /** Runs `operation` when no write operation is under way (for a switch of the BAT to a whole table). */
  betweenOperations<T>(operation: () => Promise<T>): Promise<T> {
    return this.serially(operation);
  }

  /** Makes every completed write durable: data first, then the metadata that points at it. */
  flush(): Promise<void> {
    return this.serially(() => this.flushNow());
  }

  /** Flushes and ends the session: LogGuid is cleared when this session set it. */
  close(): Promise<void> {
    return this.serially(async () => {
      await this.flushNow();
      await this.journal.close();
    });
  }

  private async flushNow(): Promise<void> {
    await this.context.source.flush();
    const updates = await this.dirtyPages();
    if (updates.length === 0) return;
    await this.journal.commit(updates);
    this.dirtyBatPages.clear();
    this.dirtyBitmapPages.clear();
    this.context.bat.committed();
    this.context.flushed();
  }

  /** Flushes when the changes held in memory (sector bitmaps, BAT pages) grew past their limits. */
  private async flushIfMuchChanged(): Promise<void> {
    if (this.dirtyBitmapPages.size > MAX_DIRTY_BITMAPS || this.context.bat.changedPages > MAX_CHANGED_BAT_PAGES)
      await this.flushNow();
  }

  /** Bitmap pages before BAT pages: a BAT entry never points at a bitmap the log has not written. */
  private async dirtyPages() {
    const updates: Array<{ fileOffset: number; data: Uint8Array }> = [];
    const { bat, geometry } = this.context;
    for (const [chunk, pages] of this.dirtyBitmapPages) {
      const bitmap = await this.context.sectorBitmap(chunk);
      const index = sectorBitmapBatIndex(geometry, chunk);
      const release = await bat.hold(index, index + 1);
      const base = bat.at(index).fileOffset(index);
      release();
      for (const page of [...pages].sort((a, b) => a - b)) {
        updates.push({ fileOffset: base + page * PAGE, data: bitmap.slice(page * PAGE, (page + 1) * PAGE) });
      }
    }
    const batOffset = this.context.layout.bat.fileOffset;
    for (const page of [...this.dirtyBatPages].sort((a, b) => a - b)) {
      updates.push({ fileOffset: batOffset + page * PAGE, data: bat.pageCopy(page) });
    }
    return updates;
  }

  /** The placement scan's verdicts (the scan runs over the whole BAT, a page at a time, on first use). */
  private async loadCorrupt(): Promise<ReadonlyMap<number, string>> {
    this.corrupt ??= await this.context.bat.corrupt();
    return this.corrupt;
  }

  /**
   * Right before the session's first change: the header update protocol with
   * a new FileWriteGuid and, since every change here is one a reader can see,
   * a new DataWriteGuid. Operations that change nothing never get here, so
   * they leave a parent's linkage to its children intact; nor do metadata
   * edits (`changesData` false), until a change of the disk's data follows.
   */
  private async startSession(changesData = true): Promise<ReadonlyMap<number, string>> {
    const corrupt = await this.loadCorrupt();
    if (!this.sessionStarted || (changesData && !this.dataChanged)) {
      await this.journal.updateHeader({
        ...(this.sessionStarted ? {} : { fileWriteGuid: randomGuid() }),
        ...(changesData ? { dataWriteGuid: randomGuid() } : {}),
      });
      this.sessionStarted = true;
      this.dataChanged ||= changesData;
    }
    return corrupt;
  }

  /** Writes `data` (inside one block) at virtual `offset`, holding the block's entries meanwhile. */
  private async writeInBlock(data: Uint8Array, offset: number): Promise<void> {
    const block = Math.floor(offset / this.context.geometry.blockSize);
    const corrupt = await this.startSession();
    const release = await this.context.bat.holdBlocks(block, block);
    try {
      await this.writeInHeldBlock(data, offset, block, corrupt);
    } finally {
      release();
    }
  }

  private async writeInHeldBlock(
    data: Uint8Array,
    offset: number,
    block: number,
    corrupt: ReadonlyMap<number, string>,
  ): Promise<void> {
    const { blockSize, hasParent } = this.context.geometry;
    const index = payloadBatIndex(this.context.geometry, block);
    const reason = corrupt.get(index);
    if (reason !== undefined) {
      throw new VhdxError("CORRUPT_BAT", `entry ${index}: payload block ${block} ${reason}`, {
        structure: "BAT",
        offset: this.batEntryOffset(index),
      });
    }
    const table = this.context.bat.at(index);
    const state = table.state(index);
    if (state === PAYLOAD_BLOCK_FULLY_PRESENT) {
      await this.context.source.write(data, table.fileOffset(index) + (offset - block * blockSize));
    } else if (state === PAYLOAD_BLOCK_PARTIALLY_PRESENT) {
      await this.writeSectors(block, table.fileOffset(index), data, offset);
    } else if (hasParent && state === PAYLOAD_BLOCK_NOT_PRESENT && data.length < this.blockLength(block)) {
      const blockOffset = await this.allocate(blockSize);
      await this.clearBlockBits(block);
      await this.setPayloadEntry(block, PAYLOAD_BLOCK_PARTIALLY_PRESENT, blockOffset);
      await this.writeSectors(block, blockOffset, data, offset);
    } else {
      // The block reads as zeros now (or a differencing disk's write covers it
      // all): a fresh block, zeros wherever this write does not reach. Its data
      // is written while the file grows over it, so a copy's writes follow
      // each other with no round trip between them.
      const { offset: blockOffset, grown } = await this.claimSpace(blockSize);
      await settleBoth(grown, this.context.source.write(data, blockOffset + (offset - block * blockSize)));
      await this.setPayloadEntry(block, PAYLOAD_BLOCK_FULLY_PRESENT, blockOffset);
    }
  }

  /**
   * Writes into a partially present block: the range grows to whole logical
   * sectors, the missing head and tail bytes come from this file (sectors
   * already present) or the parent, and the sectors are marked present.
   */
  private async writeSectors(block: number, blockOffset: number, data: Uint8Array, offset: number): Promise<void> {
    const { blockSize, logicalSectorSize: sector, chunkSize } = this.context.geometry;
    const start = Math.floor(offset / sector) * sector;
    const end = Math.ceil((offset + data.length) / sector) * sector;
    const chunk = Math.floor(offset / chunkSize);
    const bitmap = await this.context.sectorBitmap(chunk);
    let buffer = data;
    if (start !== offset || end !== offset + data.length) {
      buffer = new Uint8Array(end - start);
      await this.fillSector(buffer.subarray(0, sector), start, blockOffset, block, bitmap);
      if (end - sector > start)
        await this.fillSector(buffer.subarray(end - start - sector), end - sector, blockOffset, block, bitmap);
      buffer.set(data, offset - start);
    }
    await this.context.source.write(buffer, blockOffset + (start - block * blockSize));
    this.markSectors(chunk, bitmap, (start % chunkSize) / sector, (end - start) / sector);
  }

  /** The current contents of one logical sector of a partially present block. */
  private async fillSector(
    target: Uint8Array,
    virtualOffset: number,
    blockOffset: number,
    block: number,
    bitmap: Uint8Array,
  ) {
    const { blockSize, logicalSectorSize, chunkSize } = this.context.geometry;
    const bit = (virtualOffset % chunkSize) / logicalSectorSize;
    if ((bitmap[bit >>> 3]! >>> (bit & 7)) & 1) {
      await readExactly(
        this.context.source,
        target,
        blockOffset + (virtualOffset - block * blockSize),
        "payload block",
      );
    } else {
      await this.context.readParent(target, virtualOffset);
    }
  }

  private markSectors(chunk: number, bitmap: Uint8Array, first: number, count: number): void {
    for (let bit = first; bit < first + count; bit++) bitmap[bit >>> 3]! |= 1 << (bit & 7);
    this.markBitmapPages(chunk, first, count);
  }

  /** A block being allocated afresh must not inherit present bits from an earlier life. */
  private async clearBlockBits(block: number): Promise<void> {
    const { chunkRatio, sectorsPerBlock, batEntryCount } = this.context.geometry;
    const chunk = Math.floor(block / chunkRatio);
    const index = sectorBitmapBatIndex(this.context.geometry, chunk);
    if (index >= batEntryCount || this.context.bat.at(index).state(index) !== SB_BLOCK_PRESENT) {
      // New space past the old end of the file reads as zeros already: only
      // the pages whose bits get set later need to go through the log.
      const bitmapOffset = await this.allocate(SECTOR_BITMAP_BLOCK_SIZE);
      this.context.freshSectorBitmap(chunk);
      this.setEntry(index, SB_BLOCK_PRESENT, bitmapOffset);
      return;
    }
    const bitmap = await this.context.sectorBitmap(chunk);
    const first = (block % chunkRatio) * sectorsPerBlock;
    for (let bit = first; bit < first + sectorsPerBlock; bit++) bitmap[bit >>> 3]! &= ~(1 << (bit & 7));
    this.markBitmapPages(chunk, first, sectorsPerBlock);
  }

  private markBitmapPages(chunk: number, firstBit: number, bitCount: number): void {
    let pages = this.dirtyBitmapPages.get(chunk);
    if (pages === undefined) {
      pages = new Set();
      this.dirtyBitmapPages.set(chunk, pages);
    }
    const bitsPerPage = PAGE * 8;
    for (
      let page = Math.floor(firstBit / bitsPerPage);
      page <= Math.floor((firstBit + bitCount - 1) / bitsPerPage);
      page++
    )
      pages.add(page);
  }

  private async setPayloadEntry(block: number, state: number, fileOffset: number): Promise<void> {
    await this.startSession();
    this.setEntry(payloadBatIndex(this.context.geometry, block), state, fileOffset);
  }

  /** Changes a held entry of the in-memory BAT (which reads use too) and marks its page for the journal. */
  private setEntry(index: number, state: number, fileOffset: number): void {
    if (!this.sessionStarted) throw new Error("internal: BAT change before the session started");
    this.context.bat.setEntry(index, state, fileOffset / MiB);
    this.dirtyBatPages.add(Math.floor((index * 8) / PAGE));
  }

  /** New space at the end of the file, 1 MiB aligned; the file grows to cover it, so it reads as zeros. */
  private async allocate(length: number): Promise<number> {
    const { offset, grown } = await this.claimSpace(length);
    await grown;
    return offset;
  }

  /**
   * New space at the end of the file, 1 MiB aligned, and the growth of the
   * file to cover it, already started: a caller may write into the space
   * meanwhile (growing a file and writing inside the new size leave the same
   * bytes in either order), but must await `grown` before anything else.
   */
  private async claimSpace(length: number): Promise<{ offset: number; grown: Promise<void> }> {
    if (this.nextFree < 0) {
      this.fileSize = await this.context.source.size();
      const ends = this.context.layout.extents.map((extent) => extent.offset + extent.length);
      this.nextFree = Math.max(Math.ceil(this.fileSize / MiB) * MiB, ...ends);
    }
    const offset = this.nextFree;
    this.nextFree += Math.ceil(length / MiB) * MiB;
    if (this.fileSize >= this.nextFree) return { offset, grown: Promise.resolve() };
    this.fileSize = this.nextFree;
    const grown = this.context.source.truncate(this.nextFree).catch((error: unknown) => {
      this.nextFree = -1; // the file's size is unknown again: ask next time
      throw error;
    });
    return { offset, grown };
  }

  /** The block's length inside the virtual disk (the last block may be cut short). */
  private blockLength(block: number): number {
    const { blockSize, virtualSize } = this.context.geometry;
    return Math.min(blockSize, virtualSize - block * blockSize);
  }

  /** The state of a held block. */
  private payloadState(block: number): number {
    const index = payloadBatIndex(this.context.geometry, block);
    return this.context.bat.at(index).state(index);
  }

  private readsAsZeros(block: number): boolean {
    const state = this.payloadState(block);
    if (state === PAYLOAD_BLOCK_FULLY_PRESENT || state === PAYLOAD_BLOCK_PARTIALLY_PRESENT) return false;
    return !(this.context.geometry.hasParent && state === PAYLOAD_BLOCK_NOT_PRESENT);
  }

  /**
   * Visits each block's part of [offset, offset + length), HELD_BLOCKS blocks
   * at a time with their entries held; flushes between batches when much has
   * changed.
   */
  private async forEachBlockPart(
    offset: number,
    length: number,
    visit: (block: number, start: number, end: number, whole: boolean) => Promise<void>,
  ): Promise<void> {
    const { blockSize } = this.context.geometry;
    const lastBlock = Math.floor((offset + length - 1) / blockSize);
    for (let at = offset; at < offset + length; ) {
      const firstBlock = Math.floor(at / blockSize);
      const release = await this.context.bat.holdBlocks(firstBlock, Math.min(lastBlock, firstBlock + HELD_BLOCKS - 1));
      try {
        for (let block = firstBlock; block < firstBlock + HELD_BLOCKS && at < offset + length; block++) {
          const blockEnd = block * blockSize + this.blockLength(block);
          const end = Math.min(offset + length, blockEnd);
          await visit(block, at, end, at === block * blockSize && end === blockEnd);
          at = end;
        }
      } finally {
        release();
      }
      await this.flushIfMuchChanged();
    }
  }

  private batEntryOffset(index: number): number {
    return this.context.layout.bat.fileOffset + index * 8;
  }

  /** Mutations run one at a time, in call order; a failed one does not block the next. */
  private serially<T>(operation: () => Promise<T>): Promise<T> {
    const run = this.queue.then(operation, operation);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

/** Waits for both to settle (nothing is left running), then throws the first failure if any. */
async function settleBoth(a: Promise<void>, b: Promise<void>): Promise<void> {
  const [first, second] = await Promise.allSettled([a, b]);
  if (first.status === "rejected") throw first.reason;
  if (second.status === "rejected") throw second.reason;
}
