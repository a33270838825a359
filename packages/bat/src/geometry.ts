// MS-VHDX 2.4 Blocks and 2.5 BAT: the arithmetic that sizes the BAT and
// interleaves its entries. A chunk is 2^23 logical sectors, the span one
// 1 MiB sector bitmap block describes; the chunk ratio is the number of payload
// blocks per chunk. Each chunk's payload entries are followed by the entry of
// its sector bitmap block:
//
//   payload blocks         = Ceil(VirtualDiskSize / BlockSize)
//   sector bitmap blocks   = Ceil(payload blocks / chunk ratio)
//   BAT entries, fixed and dynamic = payload blocks + Fl((payload blocks - 1) / chunk ratio)
//     (the last entry locates the last payload block, so when the payload
//     blocks fill the last chunk exactly, that chunk's bitmap has no entry)
//   BAT entries, differencing      = sector bitmap blocks * (chunk ratio + 1)
//   index of payload block i       = i + Fl(i / chunk ratio)
//   index of sector bitmap block j = j * (chunk ratio + 1) + chunk ratio
import { BAT_ENTRY_SIZE, MAX_BLOCK_SIZE, MAX_VIRTUAL_DISK_SIZE, MIN_BLOCK_SIZE, VhdxError } from "@vhdx/structs";

export interface GeometryInput {
  /** VirtualDiskSize in bytes (2.6.2.2). */
  virtualSize: number;
  /** BlockSize of the File Parameters item (2.6.2.1). */
  blockSize: number;
  /** LogicalSectorSize (2.6.2.4): 512 or 4096. */
  logicalSectorSize: number;
  /** The HasParent flag of the File Parameters item: a differencing disk. */
  hasParent: boolean;
}

export interface BatGeometry extends GeometryInput {
  /** blockSize / logicalSectorSize */
  sectorsPerBlock: number;
  /** 2^23 * logicalSectorSize / blockSize: payload blocks per chunk. */
  chunkRatio: number;
  /** chunkRatio * blockSize: virtual bytes covered by one sector bitmap block. */
  chunkSize: number;
  /** Ceil(virtualSize / blockSize) */
  payloadBlockCount: number;
  /** Ceil(payloadBlockCount / chunkRatio) */
  sectorBitmapBlockCount: number;
  /** Entries the BAT must hold (see the formulas above). */
  batEntryCount: number;
  /** batEntryCount * 8 */
  batByteLength: number;
}

/** Logical sectors described by one sector bitmap block (1 MiB of bits). */
export const SECTORS_PER_CHUNK = 2 ** 23;

/** Checks the parameters and derives every count and size the BAT needs. */
export function computeGeometry(input: GeometryInput): BatGeometry {
  if (typeof input !== "object" || input === null) throw new TypeError("computeGeometry: expected an object");
  const { virtualSize, blockSize, logicalSectorSize, hasParent } = input;
  if (typeof hasParent !== "boolean") throw new TypeError("computeGeometry: hasParent must be a boolean");
  checkBlockSize(blockSize);
  checkSectorSize(logicalSectorSize);
  checkVirtualSize(virtualSize, logicalSectorSize);

  const chunkRatio = (SECTORS_PER_CHUNK * logicalSectorSize) / blockSize;
  const payloadBlockCount = Math.ceil(virtualSize / blockSize);
  const sectorBitmapBlockCount = Math.ceil(payloadBlockCount / chunkRatio);
  const batEntryCount = hasParent
    ? sectorBitmapBlockCount * (chunkRatio + 1)
    : payloadBlockCount + Math.floor((payloadBlockCount - 1) / chunkRatio);
  return {
    virtualSize,
    blockSize,
    logicalSectorSize,
    hasParent,
    sectorsPerBlock: blockSize / logicalSectorSize,
    chunkRatio,
    chunkSize: chunkRatio * blockSize,
    payloadBlockCount,
    sectorBitmapBlockCount,
    batEntryCount,
    batByteLength: batEntryCount * BAT_ENTRY_SIZE,
  };
}

/** BAT index of payload block `block`: block + Fl(block / chunkRatio). */
export function payloadBatIndex(geometry: BatGeometry, block: number): number {
  checkIndex(block, geometry.payloadBlockCount, "payload block");
  return block + Math.floor(block / geometry.chunkRatio);
}

/**
 * BAT index of the sector bitmap block of chunk `chunk`:
 * chunk * (chunkRatio + 1) + chunkRatio. In a fixed or dynamic file whose
 * payload blocks fill the last chunk exactly, the last chunk's index equals
 * batEntryCount: that entry does not exist (BatTable reads it as NOT_PRESENT).
 */
export function sectorBitmapBatIndex(geometry: BatGeometry, chunk: number): number {
  checkIndex(chunk, geometry.sectorBitmapBlockCount, "sector bitmap block");
  return chunk * (geometry.chunkRatio + 1) + geometry.chunkRatio;
}

/** The chunk (and so the sector bitmap block) that payload block `block` belongs to. */
export function chunkOfBlock(geometry: BatGeometry, block: number): number {
  checkIndex(block, geometry.payloadBlockCount, "payload block");
  return Math.floor(block / geometry.chunkRatio);
}

function checkIndex(value: number, count: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value >= count) {
    throw new VhdxError("OUT_OF_RANGE", `${what} ${value} is outside 0..${count - 1}`);
  }
}

function checkBlockSize(blockSize: number): void {
  const where = { structure: "file parameters", field: "BlockSize" };
  if (typeof blockSize !== "number") throw new TypeError("computeGeometry: blockSize must be a number");
  const powerOfTwo = Number.isInteger(blockSize) && blockSize > 0 && (blockSize & (blockSize - 1)) === 0;
  if (!powerOfTwo || blockSize < MIN_BLOCK_SIZE || blockSize > MAX_BLOCK_SIZE) {
    throw new VhdxError("BAD_FIELD", `BlockSize is ${blockSize}, expected a power of two from 1 MiB to 256 MiB`, where);
  }
}

function checkSectorSize(sectorSize: number): void {
  const where = { structure: "logical sector size", field: "LogicalSectorSize" };
  if (typeof sectorSize !== "number") throw new TypeError("computeGeometry: logicalSectorSize must be a number");
  if (sectorSize !== 512 && sectorSize !== 4096) {
    throw new VhdxError("BAD_FIELD", `LogicalSectorSize is ${sectorSize}, expected 512 or 4096`, where);
  }
}

function checkVirtualSize(size: number, sectorSize: number): void {
  const where = { structure: "virtual disk size", field: "VirtualDiskSize" };
  if (typeof size !== "number") throw new TypeError("computeGeometry: virtualSize must be a number");
  if (!Number.isInteger(size) || size <= 0 || size > MAX_VIRTUAL_DISK_SIZE) {
    throw new VhdxError("BAD_FIELD", `VirtualDiskSize is ${size}, expected a positive integer up to 64 TiB`, where);
  }
  if (size % sectorSize !== 0) {
    throw new VhdxError(
      "BAD_FIELD",
      `VirtualDiskSize ${size} is not a multiple of the ${sectorSize}-byte sector`,
      where,
    );
  }
}
