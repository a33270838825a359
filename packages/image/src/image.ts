// An opened VHDX image: what it is (sizes, type, identity, its parent) and
// reads of its virtual disk. Built by openImage; see open/open-image.ts.
import {
  type BatGeometry,
  BatTable,
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
import type { Layout } from "./open/layout.js";
import type { MetadataItems } from "./open/metadata.js";
import { type CorruptEntries, scanBlockPlacement } from "./read/block-integrity.js";
import { type RandomAccessSource, closedError, readExactly } from "./sources/source.js";

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
  /** Whether closing this image closes the parent (true when openImage opened it). */
  ownsParent: boolean;
}

/** Sector bitmaps kept in memory at most: 16 MiB. */
const BITMAP_CACHE_LIMIT = 16;

export class VhdxImage {
  readonly source: RandomAccessSource;
  readonly readOnly: boolean;
  readonly virtualSize: number;
  readonly blockSize: number;
  readonly logicalSectorSize: number;
  readonly physicalSectorSize: number;
  readonly diskType: DiskType;
  readonly virtualDiskId: string;
  readonly dataWriteGuid: string;
  readonly fileWriteGuid: string;
  readonly logGuid: string;
  readonly creator: string;
  readonly parent: VhdxImage | null;
  /** The parent locator's keys and values, or null for a disk without a parent. */
  readonly parentLocator: Readonly<Record<string, string>> | null;
  readonly geometry: BatGeometry;
  readonly header: Header;
  readonly regionTable: RegionTable;
  readonly layout: Layout;
  readonly metadata: MetadataItems;
  /** File size when opened. */
  readonly fileSize: number;
  /** Which header slot (1 or 2) is current, and which region table copy is in use. */
  readonly headerSlot: 1 | 2;
  readonly regionTableCopy: 1 | 2;
  /**
   * "memory" when the file has a log to replay and was opened read-only:
   * reads show the replayed contents, the file is untouched (and still needs
   * a replay). "disk" when a read-write open replayed it into the file.
   */
  readonly logReplay: LogReplay;

  private readonly ownsParent: boolean;
  private batLoad: Promise<{ table: BatTable; corrupt: CorruptEntries }> | null = null;
  private readonly bitmaps = new Map<number, Promise<Uint8Array>>();
  private closed = false;

  constructor(parts: ImageParts) {
    const { metadata, header } = parts;
    this.source = parts.source;
    this.readOnly = parts.readOnly;
    this.fileSize = parts.fileSize;
    this.header = header;
    this.regionTable = parts.regionTable;
    this.headerSlot = parts.headerSlot;
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
    this.dataWriteGuid = header.dataWriteGuid;
    this.fileWriteGuid = header.fileWriteGuid;
    this.logGuid = header.logGuid;
    this.creator = parts.fileIdentifier.creator;
    this.parentLocator = metadata.parentLocator?.entries ?? null;
    this.parent = parts.parent;
    this.ownsParent = parts.ownsParent;
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
    const { table, corrupt } = await this.loadBat();
    const runs: ReadRun[] = [];
    mapRange(table, offset, buffer.length, (run) => runs.push({ ...run }));
    for (const run of runs) {
      await this.readRun(run, buffer.subarray(run.virtualOffset - offset, run.virtualOffset - offset + run.length), table, corrupt);
    }
  }

  /** The loaded BAT (read on first use, not at open). */
  async bat(): Promise<BatTable> {
    return (await this.loadBat()).table;
  }

  /** BAT entries whose blocks lie where no block may (index -> reason). Reads the BAT. */
  async corruptBatEntries(): Promise<ReadonlyMap<number, string>> {
    return (await this.loadBat()).corrupt;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.source.close();
    if (this.ownsParent) await this.parent?.close();
  }

  private async readRun(run: ReadRun, target: Uint8Array, table: BatTable, corrupt: CorruptEntries): Promise<void> {
    switch (run.kind) {
      case "zero":
        target.fill(0);
        return;
      case "data":
        this.checkBlocks(run, corrupt);
        await readExactly(this.source, target, run.fileOffset, "payload block");
        return;
      case "parent":
        await this.readParent(target, run.virtualOffset);
        return;
      case "partial": {
        this.checkBlocks(run, corrupt);
        const bitmap = await this.sectorBitmap(Math.floor(run.virtualOffset / this.geometry.chunkSize), table, corrupt);
        const pieces: ReadRun[] = [];
        splitPartialRun(run, bitmap, this.geometry, (piece) => pieces.push({ ...piece }));
        for (const piece of pieces) {
          const start = piece.virtualOffset - run.virtualOffset;
          await this.readRun(piece, target.subarray(start, start + piece.length), table, corrupt);
        }
      }
    }
  }

  /** Reads from the parent; a child larger than its parent reads zeros past the parent's end. */
  private async readParent(target: Uint8Array, offset: number): Promise<void> {
    const parent = this.parent;
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

  private sectorBitmap(chunk: number, table: BatTable, corrupt: CorruptEntries): Promise<Uint8Array> {
    let bitmap = this.bitmaps.get(chunk);
    if (bitmap === undefined) {
      bitmap = this.loadSectorBitmap(chunk, table, corrupt);
      if (this.bitmaps.size >= BITMAP_CACHE_LIMIT) this.bitmaps.delete(this.bitmaps.keys().next().value!);
      this.bitmaps.set(chunk, bitmap);
      bitmap.catch(() => this.bitmaps.delete(chunk));
    }
    return bitmap;
  }

  private async loadSectorBitmap(chunk: number, table: BatTable, corrupt: CorruptEntries): Promise<Uint8Array> {
    const index = sectorBitmapBatIndex(this.geometry, chunk);
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

  private loadBat(): Promise<{ table: BatTable; corrupt: CorruptEntries }> {
    if (this.closed) return Promise.reject(closedError(this.source.name));
    this.batLoad ??= (async () => {
      const region = this.layout.bat;
      const bytes = new Uint8Array(this.geometry.batByteLength);
      await readExactly(this.source, bytes, region.fileOffset, "BAT");
      const table = new BatTable(bytes, this.geometry, { regionFileOffset: region.fileOffset });
      return { table, corrupt: scanBlockPlacement(table, this.fileSize, this.layout.extents) };
    })();
    return this.batLoad;
  }

  private batEntryOffset(index: number): number {
    return this.layout.bat.fileOffset + index * 8;
  }

  private corruptEntry(index: number, detail: string): VhdxError {
    return new VhdxError("CORRUPT_BAT", `entry ${index}: ${detail}`, { structure: "BAT", offset: this.batEntryOffset(index) });
  }

  private checkRange(offset: number, length: number): void {
    if (this.closed) throw closedError(this.source.name);
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
      throw new VhdxError("OUT_OF_RANGE", `read of ${length} bytes at ${offset}: offset and length must be non-negative integers`);
    }
    if (offset + length > this.virtualSize) {
      throw new VhdxError(
        "OUT_OF_RANGE",
        `read of ${length} bytes at ${offset} ends past the virtual disk's ${this.virtualSize} bytes`,
      );
    }
  }
}
