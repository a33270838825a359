// An opened VHDX image: what it is (sizes, type, identity, its parent) and
// reads of its virtual disk. Built by openImage; see open/open-image.ts.
// Over 300 lines: the public class and the private state its read, write and
// extents paths share; the work itself is in read/, write/ and check/.
import {
  type BatGeometry,
  type BatTable,
  type ReadRun,
  mapRange,
  payloadBatIndex,
  sectorBitmapBatIndex,
  splitPartialRun,
} from "@vhdx/bat";
import {
  type FileIdentifier,
  type Header,
  type RegionTable,
  SB_BLOCK_PRESENT,
  SECTOR_BITMAP_BLOCK_SIZE,
  VhdxError,
} from "@vhdx/structs";
import { attachWriter } from "./internal/writer-handle.js";
import type { Layout } from "./open/layout.js";
import type { MetadataItems } from "./open/metadata.js";
import { BatAccess, type BatEntries } from "./read/bat-access.js";
import type { WindowScratch } from "./read/bat-pages.js";
import { type DiskExtent, type ExtentLayer, diskExtents } from "./read/extents.js";
import { type CorruptEntries, corruptEntryError } from "./read/block-integrity.js";
import { readPartialRun } from "./read/partial-runs.js";
import { readPayload } from "./read/payload-reads.js";
import { BlockSalvage, type SalvageLog, type SalvagedRange } from "./read/salvage.js";
import { SectorBitmapCache } from "./read/sector-bitmap-cache.js";
import { type StreamOptions, diskStream } from "./read/stream.js";
import { type RandomAccessSource, closedError, readExactly, readOnlyError } from "./sources/source.js";
import type { CurrentHeader } from "./write/header-update.js";
import { type DiscardResult, ImageWriter } from "./write/image-writer.js";

export type { DiscardResult } from "./write/image-writer.js";

export interface DiscardOptions {
  /** What to do with what cannot be freed (parts of blocks, a fixed disk): "keep" (default) or "zero". */
  partial?: "keep" | "zero";
}

export type DiskType = "fixed" | "dynamic" | "differencing";

/** How the log was replayed at open: null when there was none to replay. */
export type LogReplay = "memory" | "disk" | null;

/** Everything openImage learned about the file, handed to the image. */
export interface ImageParts {
  source: RandomAccessSource;
  readOnly: boolean;
  fileSize: number;
  fileIdentifier: FileIdentifier;
  header: Header;
  headerSlot: 1 | 2;
  regionTable: RegionTable;
  regionTableCopy: 1 | 2;
  logReplay: LogReplay;
  layout: Layout;
  metadata: MetadataItems;
  geometry: BatGeometry;
  parent: VhdxImage | null;
  /** Why a differencing disk has no parent (opened with requireParent: false), or null. */
  parentError: VhdxError | null;
  /** Whether closing this image closes the parent (true when openImage opened it). */
  ownsParent: boolean;
  /** Whether closing this image closes `source` (true when the library opened it, never for a caller's source). */
  ownsSource: boolean;
  /** The chain's record of what salvage read as zeros, when opened with `salvage: true`. */
  salvage?: SalvageLog | null;
}

export class VhdxImage {
  readonly source: RandomAccessSource;
  readonly readOnly: boolean;
  readonly virtualSize: number;
  readonly blockSize: number;
  readonly logicalSectorSize: number;
  readonly physicalSectorSize: number;
  readonly diskType: DiskType;
  readonly virtualDiskId: string;
  readonly creator: string;
  readonly parent: VhdxImage | null;
  /**
   * Why this differencing disk has no parent, when it was opened with
   * requireParent: false and the parent could not be used; reads that need
   * the parent throw it. Null otherwise.
   */
  readonly parentError: VhdxError | null;
  /** The parent locator's keys and values, or null for a disk without a parent. */
  readonly parentLocator: Readonly<Record<string, string>> | null;
  readonly geometry: BatGeometry;
  readonly regionTable: RegionTable;
  readonly layout: Layout;
  readonly metadata: MetadataItems;
  /** File size when opened. */
  readonly fileSize: number;
  /** Which region table copy (1 or 2) is in use. */
  readonly regionTableCopy: 1 | 2;
  /**
   * "memory" when the file has a log to replay and was opened read-only:
   * reads show the replayed contents, the file is untouched (and still needs
   * a replay). "disk" when a read-write open replayed it into the file.
   */
  readonly logReplay: LogReplay;

  private readonly ownsParent: boolean;
  private readonly ownsSource: boolean;
  private current: CurrentHeader;
  private readonly batAccess: BatAccess;
  private readonly bitmaps: SectorBitmapCache;
  private readonly writer: ImageWriter | null;
  private readonly salvage: BlockSalvage | null;
  private readonly salvageLog: SalvageLog | null;
  private closed = false;

  constructor(parts: ImageParts) {
    const { metadata, header } = parts;
    this.source = parts.source;
    this.readOnly = parts.readOnly;
    this.fileSize = parts.fileSize;
    this.current = { header, slot: parts.headerSlot };
    this.regionTable = parts.regionTable;
    this.regionTableCopy = parts.regionTableCopy;
    this.logReplay = parts.logReplay;
    this.layout = parts.layout;
    this.metadata = metadata;
    this.geometry = parts.geometry;
    this.virtualSize = metadata.virtualDiskSize;
    this.blockSize = metadata.fileParameters.blockSize;
    this.logicalSectorSize = metadata.logicalSectorSize;
    this.physicalSectorSize = metadata.physicalSectorSize;
    this.diskType = metadata.fileParameters.hasParent
      ? "differencing"
      : metadata.fileParameters.leaveBlockAllocated
        ? "fixed"
        : "dynamic";
    this.virtualDiskId = metadata.virtualDiskId;
    this.creator = parts.fileIdentifier.creator;
    this.parentLocator = metadata.parentLocator?.entries ?? null;
    this.parent = parts.parent;
    this.parentError = parts.parentError;
    this.ownsParent = parts.ownsParent;
    this.ownsSource = parts.ownsSource;
    this.bitmaps = new SectorBitmapCache((chunk) => this.loadSectorBitmap(chunk));
    this.batAccess = new BatAccess(this.source, this.geometry, this.layout, this.fileSize, !this.readOnly);
    this.salvageLog = parts.salvage ?? null;
    this.salvage = this.salvageLog && this.createSalvage(this.salvageLog);
    this.writer = this.readOnly ? null : this.createWriter();
    attachWriter(this, (operation) => this.writable(operation));
  }

  /** The current header (it changes when a read-write session writes). */
  get header(): Header {
    return this.current.header;
  }

  /** Which header slot (1 or 2) is current. */
  get headerSlot(): 1 | 2 {
    return this.current.slot;
  }

  get dataWriteGuid(): string {
    return this.current.header.dataWriteGuid;
  }

  get fileWriteGuid(): string {
    return this.current.header.fileWriteGuid;
  }

  get logGuid(): string {
    return this.current.header.logGuid;
  }

  /**
   * Opened with `salvage: true`: the ranges of the virtual disk read as zeros
   * so far because their blocks could not be trusted or read, this image's and
   * its parents', in disk order (see read/salvage.ts). Empty otherwise.
   */
  get salvaged(): readonly SalvagedRange[] {
    return this.salvageLog?.list() ?? [];
  }

  /** True when the file still holds a log to replay: it was opened read-only and replayed in memory. */
  get needsReplay(): boolean {
    return this.logReplay === "memory";
  }

  /** Reads `length` bytes of the virtual disk at `offset` into a new array. */
  async read(offset: number, length: number): Promise<Uint8Array> {
    this.checkRange(offset, length);
    const buffer = new Uint8Array(length);
    await this.readInto(buffer, offset);
    return buffer;
  }

  /** Fills `buffer` with the virtual disk's bytes from `offset`. */
  async readInto(buffer: Uint8Array, offset: number): Promise<void> {
    if (!(buffer instanceof Uint8Array)) throw new TypeError("readInto: buffer must be a Uint8Array");
    this.checkRange(offset, buffer.length);
    if (buffer.length === 0) return;
    const { table, corrupt } = await this.loadBat(() => this.batAccess.forRange(offset, buffer.length));
    const runs: ReadRun[] = [];
    const keep = (run: ReadRun) => runs.push({ ...run });
    if (this.salvage === null) mapRange(table, offset, buffer.length, keep);
    else await this.salvage.mapRange(table, corrupt, offset, buffer.length, keep);
    for (const run of runs) {
      const target = buffer.subarray(run.virtualOffset - offset, run.virtualOffset - offset + run.length);
      if (this.salvage === null) await this.readRun(run, target, corrupt);
      else await this.salvage.readRun(run, target, (part, into) => this.readRun(part, into, corrupt));
    }
  }

  /**
   * The whole BAT, read on first use (not at open) and then held: 8 bytes
   * per block. For a large disk prefer batWindow, which is answered a page
   * at a time. On a writable image the whole table becomes the one writes
   * change (taken between two write operations, with their changes).
   */
  async bat(): Promise<BatTable> {
    const load = () => this.loadBat();
    return (await (this.writer === null ? load() : this.writer.betweenOperations(load))).table;
  }

  /**
   * A BAT table holding at least the entries [offset, offset + length) of
   * the virtual disk needs: its blocks' payload entries and their chunks'
   * sector bitmap entries. The whole BAT when it is held; otherwise a window
   * (BatTable.window): a copy of them out of the pages. A walk that asks for
   * window after window may pass the same `scratch` each time: the copy then
   * goes into its buffer, reused, and each call spoils the table before.
   */
  async batWindow(offset: number, length: number, scratch?: WindowScratch): Promise<BatTable> {
    this.checkRange(offset, length);
    const covered = Math.max(1, Math.min(length, this.virtualSize - offset));
    return (await this.loadBat(() => this.batAccess.forRange(offset, covered, scratch))).table;
  }

  /**
   * Where the bytes of [offset, offset + length) of the virtual disk come
   * from, as merged runs in order: "data" in a file of the chain (`depth`,
   * `file`, `fileOffset`), "zero" by a block's state, or "unallocated" (zeros:
   * nothing holds them). From the BAT and sector bitmaps only; see
   * read/extents.ts. Throws here (not when iterated) for a bad range.
   */
  extents(offset = 0, length = this.virtualSize - offset): AsyncGenerator<DiskExtent, void, undefined> {
    if (typeof offset !== "number" || typeof length !== "number")
      throw new TypeError("extents: offset and length must be numbers");
    this.checkRange(offset, length, "extents");
    return diskExtents(this.extentLayer(), offset, length);
  }

  /**
   * [offset, offset + length) of the virtual disk as a web ReadableStream of
   * chunks (8 MiB by default), read only as fast as they are taken; see
   * read/stream.ts. A bad range or a closed image errors the stream, as a
   * failed read does; cancel() stops the reads.
   */
  stream(offset = 0, length = this.virtualSize - offset, options: StreamOptions = {}): ReadableStream<Uint8Array> {
    if (typeof offset !== "number" || typeof length !== "number")
      throw new TypeError("stream: offset and length must be numbers");
    return diskStream(this, offset, length, options, () => this.checkRange(offset, length, "stream"));
  }

  /** BAT entries whose blocks lie where no block may (index -> reason). Reads the BAT. */
  async corruptBatEntries(): Promise<ReadonlyMap<number, string>> {
    if (this.closed) throw closedError(this.source.name);
    return this.batAccess.corrupt();
  }

  /** Writes `data` at virtual `offset`. Durable after flush() or close(). */
  async write(offset: number, data: Uint8Array): Promise<void> {
    if (!(data instanceof Uint8Array)) throw new TypeError("write: data must be a Uint8Array");
    this.checkRange(offset, data.length, "write");
    if (data.length > 0) await this.writable("write").write(data, offset);
  }

  /**
   * Makes [offset, offset + length) read as zeros. Whole blocks become ZERO
   * without using space (in a fixed disk, zeros are written in place); parts
   * of blocks are written with zeros unless they read as zeros already.
   */
  async writeZeroes(offset: number, length: number): Promise<void> {
    this.checkRange(offset, length, "writeZeroes");
    if (length > 0) await this.writable("writeZeroes").writeZeroes(offset, length);
  }

  /**
   * Tells the image that [offset, offset + length) is no longer needed. Whole
   * blocks become UNMAPPED and read as zeros; in a differencing disk they
   * become NOT_PRESENT (sector bitmap bits cleared) and read from the parent
   * again. What cannot be freed, parts of blocks and every block of a fixed
   * disk, is left as it is (`partial: "keep"`, the default) or written as
   * zeros (`partial: "zero"`). The result counts the bytes each way.
   */
  async discard(offset: number, length: number, options: DiscardOptions = {}): Promise<DiscardResult> {
    this.checkRange(offset, length, "discard");
    const partial = options.partial ?? "keep";
    if (partial !== "keep" && partial !== "zero")
      throw new TypeError(`discard: partial must be "keep" or "zero", got ${JSON.stringify(partial)}`);
    if (length === 0) return { freedBytes: 0, zeroedBytes: 0, keptBytes: 0 };
    return this.writable("discard").discard(offset, length, partial);
  }

  /** Makes every completed write durable (no-op on a read-only image). */
  async flush(): Promise<void> {
    if (this.closed) throw closedError(this.source.name);
    await this.writer?.flush();
  }

  /**
   * Flushes and ends the write session (clearing LogGuid), then closes what
   * the library opened itself: the file of openVhdx or createVhdx (and its
   * lock), and parents found through the locator. A source the caller passed
   * to openImage or createImage, and a parent image the caller passed in
   * `parents`, stay open: they are the caller's to close. Afterwards the image
   * refuses every use with CLOSED.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await this.writer?.close();
    } finally {
      this.closed = true;
      try {
        if (this.ownsSource) await this.source.close();
      } finally {
        if (this.ownsParent) await this.parent?.close();
      }
    }
  }

  /** This image as read/extents.ts walks it: its BAT, its sector bitmap cache, its parent. */
  private extentLayer(): ExtentLayer {
    return {
      name: this.source.name,
      geometry: this.geometry,
      batWindow: (offset, length, scratch) => this.batWindow(offset, length, scratch),
      sectorBitmap: (chunk) => this.bitmaps.get(chunk),
      untrustedBlocks: this.salvage && this.untrustedBlocks.bind(this, this.salvage),
      parent: () => {
        if (this.parent === null && this.parentError !== null) throw this.parentError;
        return this.parent?.extentLayer() ?? null;
      },
    };
  }

  private createSalvage(log: SalvageLog): BlockSalvage {
    const batOffset = this.layout.bat.fileOffset;
    return new BlockSalvage(log, this.source.name, this.geometry, batOffset, (chunk) => this.bitmaps.get(chunk));
  }

  /** Salvage opens: the blocks of [firstBlock, endBlock) that read as zeros (extents and reads agree). */
  private async untrustedBlocks(
    salvage: BlockSalvage,
    table: BatTable,
    firstBlock: number,
    endBlock: number,
  ): Promise<ReadonlySet<number>> {
    return salvage.untrusted(table, await this.batAccess.corrupt(), firstBlock, endBlock);
  }

  private writable(operation: string): ImageWriter {
    if (this.writer === null) throw readOnlyError(this.source.name, operation);
    return this.writer;
  }

  private createWriter(): ImageWriter {
    return new ImageWriter({
      source: this.source,
      geometry: this.geometry,
      layout: this.layout,
      fixed: this.diskType === "fixed",
      current: this.current,
      onHeader: (current) => {
        this.current = current;
      },
      bat: this.batAccess,
      sectorBitmap: (chunk) => this.bitmaps.pinned(chunk),
      freshSectorBitmap: (chunk) => {
        this.bitmaps.fresh(chunk);
      },
      readParent: (target, offset) => this.readParent(target, offset),
      flushed: () => this.bitmaps.unpinAll(),
    });
  }

  private async readRun(run: ReadRun, target: Uint8Array, corrupt: CorruptEntries): Promise<void> {
    switch (run.kind) {
      case "zero":
        target.fill(0);
        return;
      case "data":
        this.checkBlocks(run, corrupt);
        await readPayload(this.source, target, run.fileOffset);
        return;
      case "parent":
        await this.readParent(target, run.virtualOffset);
        return;
      case "partial": {
        this.checkBlocks(run, corrupt);
        const bitmap = await this.bitmaps.get(Math.floor(run.virtualOffset / this.geometry.chunkSize));
        const pieces: ReadRun[] = [];
        splitPartialRun(run, bitmap, this.geometry, (piece) => pieces.push({ ...piece }));
        await readPartialRun(run, pieces, target, {
          readData: (part, fileOffset) => readPayload(this.source, part, fileOffset),
          readParent: (part, offset) => this.readParent(part, offset),
        });
      }
    }
  }

  /** Reads from the parent; a child larger than its parent reads zeros past the parent's end. */
  private async readParent(target: Uint8Array, offset: number): Promise<void> {
    const parent = this.parent;
    if (parent === null && this.parentError !== null) throw this.parentError;
    const available = parent === null ? 0 : Math.max(0, Math.min(target.length, parent.virtualSize - offset));
    if (parent !== null && available > 0) await parent.readInto(target.subarray(0, available), offset);
    target.fill(0, available);
  }

  /** Refuses a run that uses a block the placement scan found corrupt. */
  private checkBlocks(run: ReadRun, corrupt: CorruptEntries): void {
    if (corrupt.size === 0) return;
    const last = Math.floor((run.virtualOffset + run.length - 1) / this.blockSize);
    for (let block = run.block; block <= last; block++) {
      const index = payloadBatIndex(this.geometry, block);
      const reason = corrupt.get(index);
      if (reason !== undefined) throw this.corruptEntry(index, `payload block ${block} ${reason}`);
    }
  }

  private async loadSectorBitmap(chunk: number): Promise<Uint8Array> {
    const index = sectorBitmapBatIndex(this.geometry, chunk);
    const { table, corrupt } = await this.loadBat(() => this.batAccess.entries(index, index + 1));
    const reason = corrupt.get(index);
    if (reason !== undefined) throw this.corruptEntry(index, `sector bitmap block ${chunk} ${reason}`);
    if (table.sectorBitmapState(chunk) !== SB_BLOCK_PRESENT) {
      throw new VhdxError(
        "CORRUPT_BITMAP",
        `chunk ${chunk} has partially present blocks but its sector bitmap block is not present`,
        { structure: "BAT", offset: this.batEntryOffset(index) },
      );
    }
    const bitmap = new Uint8Array(SECTOR_BITMAP_BLOCK_SIZE);
    return readExactly(this.source, bitmap, table.sectorBitmapFileOffset(chunk), "sector bitmap block");
  }

  /** The whole BAT, or the part `load` asks for. */
  private loadBat(load: () => Promise<BatEntries> = () => this.batAccess.loadWhole()): Promise<BatEntries> {
    if (this.closed) return Promise.reject(closedError(this.source.name));
    return load();
  }

  private batEntryOffset(index: number): number {
    return this.layout.bat.fileOffset + index * 8;
  }

  private corruptEntry(index: number, detail: string): VhdxError {
    return corruptEntryError(this.layout.bat.fileOffset, index, detail);
  }

  private checkRange(offset: number, length: number, operation = "read"): void {
    if (this.closed) throw closedError(this.source.name);
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
      throw new VhdxError(
        "OUT_OF_RANGE",
        `${operation} of ${length} bytes at ${offset}: offset and length must be non-negative integers`,
      );
    }
    if (offset + length > this.virtualSize) {
      throw new VhdxError(
        "OUT_OF_RANGE",
        `${operation} of ${length} bytes at ${offset} ends past the virtual disk's ${this.virtualSize} bytes`,
      );
    }
  }
}
