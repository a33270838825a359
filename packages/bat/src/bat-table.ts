// MS-VHDX 2.5.1 BAT Entry: the BAT region read in place. Each entry is a
// little-endian u64, read as two u32 halves so no BigInt is needed:
//
// | bits  | field        | rule                                                  |
// |-------|--------------|-------------------------------------------------------|
// | 0-2   | State        | 2.5.1.1 (payload) or 2.5.1.2 (sector bitmap)          |
// | 3-19  | Reserved     | MUST be 0 (kept as read; setEntry writes 0)           |
// | 20-63 | FileOffsetMB | file offset in MiB; 44 bits, so it fits in a number   |
//
// The table never copies the region and allocates nothing per lookup.
import { MiB, SB_BLOCK_NOT_PRESENT, VhdxError } from "@vhdx/structs";
import { BAT_ENTRY_SIZE } from "@vhdx/structs";
import { type BatGeometry, payloadBatIndex, sectorBitmapBatIndex } from "./geometry.js";

/** 2^44 - 1: the largest FileOffsetMB a BAT entry can hold. */
export const MAX_FILE_OFFSET_MB = 2 ** 44 - 1;
/** The largest FileOffsetMB whose byte offset is still a safe integer (2^53 - 1 MiB). */
export const MAX_SAFE_FILE_OFFSET_MB = 2 ** 33 - 1;

export interface BatTableOptions {
  /** Absolute file offset of the BAT region, for error messages. */
  regionFileOffset?: number;
}

export interface BatWindowOptions extends BatTableOptions {
  /** Index of the first entry `bytes` holds. */
  firstEntry: number;
}

export class BatTable {
  readonly geometry: BatGeometry;
  /** The region bytes (or a window's): a view of the caller's bytes, not a copy. */
  readonly bytes: Uint8Array;
  /** Absolute file offset of the region, when the caller gave it. */
  readonly regionFileOffset: number | undefined;
  /** The first entry held: 0, unless this is a window. */
  readonly firstEntry: number;
  /** One past the last entry held: geometry.batEntryCount, unless this is a window. */
  readonly endEntry: number;
  readonly #view: DataView;
  readonly #count: number;

  /** The whole BAT: `bytes` holds at least geometry.batByteLength bytes (TRUNCATED otherwise). */
  constructor(bytes: Uint8Array, geometry: BatGeometry, options: BatTableOptions = {}) {
    if (!(bytes instanceof Uint8Array)) throw new TypeError("BatTable: bytes must be a Uint8Array");
    const { regionFileOffset } = options;
    if (regionFileOffset !== undefined && !(Number.isSafeInteger(regionFileOffset) && regionFileOffset >= 0)) {
      throw new TypeError("BatTable: regionFileOffset must be a non-negative integer");
    }
    const first = windowStart(options);
    if (first !== null && !(Number.isSafeInteger(first) && first >= 0 && first <= geometry.batEntryCount)) {
      throw new TypeError(`BatTable: firstEntry must be an entry index in 0..${geometry.batEntryCount}`);
    }
    if (first === null && bytes.length < geometry.batByteLength) {
      throw new VhdxError(
        "TRUNCATED",
        `region holds ${bytes.length} bytes, the disk needs ${geometry.batEntryCount} entries (${geometry.batByteLength} bytes)`,
        { structure: "BAT", offset: regionFileOffset },
      );
    }
    this.geometry = geometry;
    this.bytes = bytes;
    this.regionFileOffset = regionFileOffset;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#count = geometry.batEntryCount;
    this.firstEntry = first ?? 0;
    this.endEntry =
      first === null ? this.#count : Math.min(this.#count, first + Math.floor(bytes.length / BAT_ENTRY_SIZE));
  }

  /**
   * Part of the BAT: `bytes` holds the entries from `firstEntry` on (as many
   * as fit, up to the end of the BAT). Looking up an entry outside the window
   * is OUT_OF_RANGE. For readers that page a large BAT in.
   */
  static window(bytes: Uint8Array, geometry: BatGeometry, options: BatWindowOptions): BatTable {
    return new BatTable(bytes, geometry, options);
  }

  /** Number of entries: geometry.batEntryCount. */
  get entryCount(): number {
    return this.#count;
  }

  /** The raw 3-bit state (the legacy 5 stays 5). */
  state(index: number): number {
    return this.#low(index) & 7;
  }

  /** Bits 3..19, which the spec requires to be zero. */
  reservedBits(index: number): number {
    return (this.#low(index) >>> 3) & 0x1ffff;
  }

  /** Bits 20..63: the file offset in MiB (up to 2^44 - 1). */
  fileOffsetMB(index: number): number {
    const low = this.#low(index);
    return (low >>> 20) + this.#view.getUint32((index - this.firstEntry) * BAT_ENTRY_SIZE + 4, true) * 4096;
  }

  /** FileOffsetMB * MiB. VhdxError CORRUPT_BAT when that is past 2^53 (a hostile entry). */
  fileOffset(index: number): number {
    const mb = this.fileOffsetMB(index);
    if (mb > MAX_SAFE_FILE_OFFSET_MB) {
      throw new VhdxError("CORRUPT_BAT", `entry ${index} has FileOffsetMB ${mb}, past any possible file`, {
        structure: "BAT entry",
        field: "FileOffsetMB",
        offset: this.entryFileOffset(index),
      });
    }
    return mb * MiB;
  }

  /** Writes an entry with its reserved bits zero. */
  setEntry(index: number, state: number, fileOffsetMB: number): void {
    this.#check(index);
    if (!Number.isInteger(state) || state < 0 || state > 7) {
      throw new VhdxError("BAD_FIELD", `state ${state} does not fit in 3 bits`, {
        structure: "BAT entry",
        field: "State",
      });
    }
    if (!Number.isInteger(fileOffsetMB) || fileOffsetMB < 0 || fileOffsetMB > MAX_FILE_OFFSET_MB) {
      throw new VhdxError("BAD_FIELD", `FileOffsetMB ${fileOffsetMB} does not fit in 44 bits`, {
        structure: "BAT entry",
        field: "FileOffsetMB",
      });
    }
    const position = (index - this.firstEntry) * BAT_ENTRY_SIZE;
    this.#view.setUint32(position, (state | ((fileOffsetMB % 4096) << 20)) >>> 0, true);
    this.#view.setUint32(position + 4, Math.floor(fileOffsetMB / 4096), true);
  }

  /** State of payload block `block`. */
  payloadState(block: number): number {
    return this.state(payloadBatIndex(this.geometry, block));
  }

  payloadFileOffset(block: number): number {
    return this.fileOffset(payloadBatIndex(this.geometry, block));
  }

  /**
   * State of the sector bitmap block of chunk `chunk`. In a fixed or dynamic
   * file whose last chunk is full, that chunk's bitmap has no entry: NOT_PRESENT.
   */
  sectorBitmapState(chunk: number): number {
    const index = sectorBitmapBatIndex(this.geometry, chunk);
    return index < this.#count ? this.state(index) : SB_BLOCK_NOT_PRESENT;
  }

  /** File offset of the sector bitmap block of chunk `chunk` (0 when it has no entry). */
  sectorBitmapFileOffset(chunk: number): number {
    const index = sectorBitmapBatIndex(this.geometry, chunk);
    return index < this.#count ? this.fileOffset(index) : 0;
  }

  /** Absolute file offset of entry `index` (regionFileOffset + index * 8), when known. */
  entryFileOffset(index: number): number | undefined {
    return this.regionFileOffset === undefined ? undefined : this.regionFileOffset + index * BAT_ENTRY_SIZE;
  }

  #low(index: number): number {
    this.#check(index);
    return this.#view.getUint32((index - this.firstEntry) * BAT_ENTRY_SIZE, true);
  }

  #check(index: number): void {
    if (index >>> 0 !== index || index < this.firstEntry || index >= this.endEntry) {
      const held =
        this.endEntry === this.#count && this.firstEntry === 0
          ? ""
          : ` (this window holds ${this.firstEntry}..${this.endEntry - 1})`;
      throw new VhdxError("OUT_OF_RANGE", `BAT entry ${index} is outside 0..${this.#count - 1}${held}`, {
        structure: "BAT",
      });
    }
  }
}

/** The first entry of a window, or null for a whole table. */
function windowStart(options: BatTableOptions | BatWindowOptions): number | null {
  return "firstEntry" in options ? options.firstEntry : null;
}
