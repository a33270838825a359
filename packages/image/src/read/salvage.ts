// Salvage reads (openImage's `salvage: true`, read-only opens only): a
// payload block whose BAT entry cannot be trusted reads as zeros instead of
// failing the read, and each one is recorded, so a person recovering data
// gets the rest of the disk and the list of what is missing. "Cannot be
// trusted" is what the read path already refuses, with no rule of its own:
// mapRange's state and offset rules (@vhdx/bat), the placement scan of every
// entry (block-integrity.ts: header section, past the end of the file, over
// the log, a region or another block), a PARTIALLY_PRESENT block's sector
// bitmap (its entry, its placement, reading it) and, while reading, a payload
// read that fails (IO_ERROR, TRUNCATED), for which only the part that failed
// reads as zeros.
import {
  type BatGeometry,
  type BatTable,
  MAX_SAFE_FILE_OFFSET_MB,
  PAYLOAD_STATE_NAMES,
  type ReadRun,
  mapRange,
  payloadBatIndex,
  sectorBitmapBatIndex,
} from "@vhdx/bat";
import {
  MiB,
  PAYLOAD_BLOCK_FULLY_PRESENT,
  PAYLOAD_BLOCK_PARTIALLY_PRESENT,
  VhdxError,
  type VhdxErrorCode,
} from "@vhdx/structs";
import { type CorruptEntries, corruptEntryError } from "./block-integrity.js";

/** A range of the virtual disk a salvage open read as zeros, and why. */
export interface SalvagedRange {
  /** The image whose BAT entry it is (its source's name): a parent's, for a range a chain reads there. */
  file: string;
  /** The payload block. */
  block: number;
  /** Its BAT entry's index, and that entry's offset in `file`. */
  batIndex: number;
  entryOffset: number;
  /** The entry's state (PAYLOAD_STATE_NAMES). */
  state: string;
  /** [virtualOffset, virtualOffset + length): the whole block, or the part of it whose read failed. */
  virtualOffset: number;
  length: number;
  /** Where the entry puts those bytes in `file` (0 for an entry into the header section); null for a state without one. */
  fileOffset: number | null;
  /** The error a read without salvage throws (CORRUPT_BAT, CORRUPT_BITMAP, IO_ERROR, TRUNCATED). */
  code: VhdxErrorCode;
  message: string;
}

export type OnSalvage = (range: SalvagedRange) => void;

/** Errors of the entries themselves: the block reads as zeros whole. */
const UNTRUSTED_ENTRY = new Set<VhdxErrorCode>(["CORRUPT_BAT", "CORRUPT_BITMAP"]);
/** Errors of reading a block's bytes (a sector bitmap's too). */
const FAILED_READ = new Set<VhdxErrorCode>(["IO_ERROR", "TRUNCATED"]);

const ignore = () => undefined;

/** The ranges read as zeros in one chain (a child shares its log with the parents it opened), each once. */
export class SalvageLog {
  private readonly ranges = new Map<string, SalvagedRange>();

  constructor(private readonly onSalvage: OnSalvage | undefined) {}

  /** Keeps `range` under `key` unless that key is known; tells onSalvage about a new one. */
  record(key: string, range: SalvagedRange): void {
    if (this.ranges.has(key)) return;
    this.ranges.set(key, range);
    this.onSalvage?.(range);
  }

  /** Every range so far, in virtual disk order (the image nearest the leaf first among equals). */
  list(): SalvagedRange[] {
    return [...this.ranges.values()].sort((a, b) => a.virtualOffset - b.virtualOffset);
  }
}

/** Salvage for one image of a chain: which of its blocks read as zeros, and reads that keep going. */
export class BlockSalvage {
  constructor(
    private readonly log: SalvageLog,
    private readonly file: string,
    private readonly geometry: BatGeometry,
    private readonly batOffset: number,
    private readonly sectorBitmap: (chunk: number) => Promise<Uint8Array>,
  ) {}

  /**
   * The blocks of [firstBlock, endBlock) (all held by `table`) that read as
   * zeros, each recorded. Loads the sector bitmaps of their PARTIALLY_PRESENT
   * blocks, as reading them would.
   */
  async untrusted(
    table: BatTable,
    corrupt: CorruptEntries,
    firstBlock: number,
    endBlock: number,
  ): Promise<ReadonlySet<number>> {
    const untrusted = new Set<number>();
    for (const [block, error] of this.entryProblems(table, corrupt, firstBlock, endBlock)) {
      untrusted.add(block);
      this.recordBlock(table, block, error);
    }
    if (!this.geometry.hasParent) return untrusted;
    const bitmapErrors = new Map<number, VhdxError | null>();
    for (let block = firstBlock; block < endBlock; block++) {
      if (untrusted.has(block) || table.payloadState(block) !== PAYLOAD_BLOCK_PARTIALLY_PRESENT) continue;
      const chunk = Math.floor(block / this.geometry.chunkRatio);
      if (!bitmapErrors.has(chunk)) bitmapErrors.set(chunk, await this.bitmapError(chunk));
      const error = bitmapErrors.get(chunk);
      if (error === null || error === undefined) continue;
      untrusted.add(block);
      this.recordBlock(table, block, error);
    }
    return untrusted;
  }

  /** mapRange for a salvage read: each untrusted block of the range becomes a zero run. */
  async mapRange(
    table: BatTable,
    corrupt: CorruptEntries,
    offset: number,
    length: number,
    visit: (run: ReadRun) => void,
  ): Promise<void> {
    const { blockSize } = this.geometry;
    const end = offset + length;
    const endBlock = Math.floor((end - 1) / blockSize) + 1;
    const untrusted = await this.untrusted(table, corrupt, Math.floor(offset / blockSize), endBlock);
    if (untrusted.size === 0) return mapRange(table, offset, length, visit);
    for (let at = offset; at < end; ) {
      const block = Math.floor(at / blockSize);
      let next = block + 1;
      if (untrusted.has(block)) {
        const runEnd = Math.min(end, next * blockSize);
        visit({ kind: "zero", virtualOffset: at, length: runEnd - at, fileOffset: -1, block });
        at = runEnd;
        continue;
      }
      while (next < endBlock && !untrusted.has(next)) next++;
      const trustedEnd = Math.min(end, next * blockSize);
      mapRange(table, at, trustedEnd - at, visit);
      at = trustedEnd;
    }
  }

  /**
   * Reads `run` into `target` with `read`. When a read of this file's bytes
   * fails, a data run is read again a block at a time, and the part of each
   * block that still fails (a partial run: the run) reads as zeros, recorded.
   */
  async readRun(
    run: ReadRun,
    target: Uint8Array,
    read: (run: ReadRun, target: Uint8Array) => Promise<void>,
  ): Promise<void> {
    if (run.kind === "zero" || run.kind === "parent") return read(run, target);
    try {
      return await read(run, target);
    } catch (error) {
      if (!isFailedRead(error)) throw error;
      if (run.kind === "partial" || this.blockOf(run.virtualOffset + run.length - 1) === run.block) {
        this.zeroFailed(run, target, error);
        return;
      }
    }
    for (const piece of this.blockPieces(run)) {
      const part = target.subarray(
        piece.virtualOffset - run.virtualOffset,
        piece.virtualOffset - run.virtualOffset + piece.length,
      );
      try {
        await read(piece, part);
      } catch (error) {
        if (!isFailedRead(error)) throw error;
        this.zeroFailed(piece, part, error);
      }
    }
  }

  /** The blocks of [firstBlock, endBlock) whose entries mapRange or the placement scan refuse. */
  private entryProblems(
    table: BatTable,
    corrupt: CorruptEntries,
    firstBlock: number,
    endBlock: number,
  ): Map<number, VhdxError> {
    const problems = new Map<number, VhdxError>();
    if (this.rangeIsSound(table, corrupt, firstBlock, endBlock)) return problems;
    for (let block = firstBlock; block < endBlock; block++) {
      const error = this.entryProblem(table, corrupt, block);
      if (error !== null) problems.set(block, error);
    }
    return problems;
  }

  /** The fast answer for a sound range: mapRange takes it whole and no entry it uses is corrupt. */
  private rangeIsSound(table: BatTable, corrupt: CorruptEntries, firstBlock: number, endBlock: number): boolean {
    const { blockSize, virtualSize } = this.geometry;
    const start = firstBlock * blockSize;
    if (entryRefusal(table, start, Math.min(endBlock * blockSize, virtualSize) - start) !== null) return false;
    if (corrupt.size === 0) return true;
    const first = payloadBatIndex(this.geometry, firstBlock);
    const end = sectorBitmapBatIndex(this.geometry, Math.floor((endBlock - 1) / this.geometry.chunkRatio)) + 1;
    if (corrupt.size < end - first) {
      for (const index of corrupt.keys()) if (index >= first && index < end) return false;
      return true;
    }
    for (let index = first; index < end; index++) if (corrupt.has(index)) return false;
    return true;
  }

  /** Why a read of payload block `block` would refuse its entry (or its chunk's sector bitmap entry), or null. */
  private entryProblem(table: BatTable, corrupt: CorruptEntries, block: number): VhdxError | null {
    const { blockSize, virtualSize, chunkRatio } = this.geometry;
    const start = block * blockSize;
    const refusal = entryRefusal(table, start, Math.min(blockSize, virtualSize - start));
    if (refusal !== null) return refusal;
    const index = payloadBatIndex(this.geometry, block);
    const reason = corrupt.get(index);
    if (reason !== undefined) return corruptEntryError(this.batOffset, index, `payload block ${block} ${reason}`);
    if (table.state(index) !== PAYLOAD_BLOCK_PARTIALLY_PRESENT) return null;
    const chunk = Math.floor(block / chunkRatio);
    const bitmapIndex = sectorBitmapBatIndex(this.geometry, chunk);
    const bitmapReason = corrupt.get(bitmapIndex);
    return bitmapReason === undefined
      ? null
      : corruptEntryError(this.batOffset, bitmapIndex, `sector bitmap block ${chunk} ${bitmapReason}`);
  }

  /** The error loading chunk `chunk`'s sector bitmap meets, or null when it loads. */
  private async bitmapError(chunk: number): Promise<VhdxError | null> {
    try {
      await this.sectorBitmap(chunk);
      return null;
    } catch (error) {
      if (VhdxError.isInstance(error) && (UNTRUSTED_ENTRY.has(error.code) || FAILED_READ.has(error.code))) return error;
      throw error;
    }
  }

  /** Records payload block `block` as read as zeros whole. */
  private recordBlock(table: BatTable, block: number, error: VhdxError): void {
    const { blockSize, virtualSize } = this.geometry;
    const index = payloadBatIndex(this.geometry, block);
    const state = table.state(index);
    const mb = table.fileOffsetMB(index);
    const holdsOffset =
      (state === PAYLOAD_BLOCK_FULLY_PRESENT || state === PAYLOAD_BLOCK_PARTIALLY_PRESENT) &&
      mb <= MAX_SAFE_FILE_OFFSET_MB;
    this.log.record(`${this.file}\0${index}`, {
      ...this.where(block, index, PAYLOAD_STATE_NAMES[state]!),
      virtualOffset: block * blockSize,
      length: Math.min(blockSize, virtualSize - block * blockSize),
      fileOffset: holdsOffset ? mb * MiB : null,
      code: error.code,
      message: error.message,
    });
  }

  /** Zeros `target`, the bytes of `run` (one block's) whose read failed, and records them. */
  private zeroFailed(run: ReadRun, target: Uint8Array, error: VhdxError): void {
    target.fill(0);
    const index = payloadBatIndex(this.geometry, run.block);
    const state = run.kind === "partial" ? PAYLOAD_BLOCK_PARTIALLY_PRESENT : PAYLOAD_BLOCK_FULLY_PRESENT;
    this.log.record(`${this.file}\0${index}\0${run.virtualOffset}`, {
      ...this.where(run.block, index, PAYLOAD_STATE_NAMES[state]!),
      virtualOffset: run.virtualOffset,
      length: run.length,
      fileOffset: run.fileOffset,
      code: error.code,
      message: error.message,
    });
  }

  private where(block: number, batIndex: number, state: string) {
    return { file: this.file, block, batIndex, entryOffset: this.batOffset + batIndex * 8, state };
  }

  /** A data run cut at block boundaries (its file offsets are contiguous, as mapRange merged it). */
  private blockPieces(run: ReadRun): ReadRun[] {
    const pieces: ReadRun[] = [];
    const end = run.virtualOffset + run.length;
    for (let at = run.virtualOffset; at < end; ) {
      const block = this.blockOf(at);
      const pieceEnd = Math.min(end, (block + 1) * this.geometry.blockSize);
      pieces.push({
        ...run,
        virtualOffset: at,
        length: pieceEnd - at,
        fileOffset: run.fileOffset + (at - run.virtualOffset),
        block,
      });
      at = pieceEnd;
    }
    return pieces;
  }

  private blockOf(offset: number): number {
    return Math.floor(offset / this.geometry.blockSize);
  }
}

/** The error mapRange throws for the entries of [offset, offset + length), or null. */
function entryRefusal(table: BatTable, offset: number, length: number): VhdxError | null {
  try {
    mapRange(table, offset, length, ignore);
    return null;
  } catch (error) {
    if (VhdxError.isInstance(error) && UNTRUSTED_ENTRY.has(error.code)) return error;
    throw error;
  }
}

function isFailedRead(error: unknown): error is VhdxError {
  return VhdxError.isInstance(error) && FAILED_READ.has(error.code);
}
