// Changing the virtual size of a fixed or dynamic disk (MS-VHDX 2.6.2.2,
// 2.5). Growing may need a larger BAT: a new one is written past the end of
// the file and the region table is pointed at it. Fixed disks get their new
// blocks allocated. Everything new is written to unused space and flushed
// first; then the BAT pages, the region tables and last the Virtual Disk Size
// item go through the log, in that order, so an interruption between log
// entries leaves a consistent image of the old or the new size.
import { type BatGeometry, computeGeometry, payloadBatIndex } from "@vhdx/bat";
import {
  BAT_REGION_GUID,
  MAX_VIRTUAL_DISK_SIZE,
  MiB,
  PAYLOAD_BLOCK_FULLY_PRESENT,
  REGION_TABLE_1_OFFSET,
  REGION_TABLE_2_OFFSET,
  VIRTUAL_DISK_SIZE_GUID,
  VhdxError,
  encodeRegionTable,
  findMetadataEntry,
} from "@vhdx/structs";
import type { VhdxImage } from "../image.js";
import { commitStructures } from "../internal/maintenance.js";
import { checkOptionKeys } from "../internal/options.js";
import { readBytes } from "../sources/source.js";

const PAGE = 4096;

export interface ResizeOptions {
  /** Shrink even when the part cut off holds data. */
  force?: boolean;
}

export interface ResizeResult {
  oldSize: number;
  newSize: number;
  /** The BAT had to move to a larger region. */
  batMoved: boolean;
}

type Page = { fileOffset: number; data: Uint8Array };
type Extent = { offset: number; length: number };

/** Resizes a fixed or dynamic image opened read-write, then closes it (its in-memory view is stale). */
export async function resizeImage(
  image: VhdxImage,
  newSize: number,
  options: ResizeOptions = {},
): Promise<ResizeResult> {
  try {
    checkOptionKeys("resizeImage", options, ["force"]);
    const oldSize = image.virtualSize;
    checkRequest(image, newSize);
    if (newSize === oldSize) return { oldSize, newSize, batMoved: false };
    const geometry = computeGeometry({ ...image.geometry, virtualSize: newSize });
    if (newSize < oldSize) await cutTail(image, newSize, options.force ?? false);
    // The session's header update comes before any byte of the file changes.
    await commitStructures(image, []);
    if (newSize > oldSize) await zeroOldTail(image);
    const { pages, movedTo } = await batPages(image, geometry);
    pages.push(...regionTablePages(image, movedTo), ...(await sizePages(image, newSize)));
    await commitStructures(image, pages);
    return { oldSize, newSize, batMoved: movedTo !== null };
  } finally {
    await image.close();
  }
}

function checkRequest(image: VhdxImage, newSize: number): void {
  if (image.readOnly) throw new VhdxError("READ_ONLY", `cannot resize ${image.source.name}: it is open read-only`);
  if (image.diskType === "differencing") {
    throw new VhdxError(
      "UNSUPPORTED",
      "a differencing disk takes its size from its parent; resize the parent, or merge first",
    );
  }
  if (
    !Number.isSafeInteger(newSize) ||
    newSize <= 0 ||
    newSize % image.logicalSectorSize !== 0 ||
    newSize > MAX_VIRTUAL_DISK_SIZE
  ) {
    throw new VhdxError(
      "INVALID_ARGUMENT",
      `the new size must be a positive multiple of ${image.logicalSectorSize} bytes, at most 64 TiB; got ${newSize}`,
    );
  }
}

/** Shrinking: refuse to drop data unless forced, then unallocate whole blocks past the end and zero the rest of the last one. */
async function cutTail(image: VhdxImage, newSize: number, force: boolean): Promise<void> {
  const { blockSize } = image.geometry;
  const oldSize = image.virtualSize;
  if (!force && (await holdsData(image, newSize, oldSize))) {
    throw new VhdxError(
      "INVALID_ARGUMENT",
      `the part of the disk past ${newSize} bytes holds data; shrinking would lose it (force to shrink anyway)`,
    );
  }
  const firstWholeBlock = Math.ceil(newSize / blockSize) * blockSize;
  if (firstWholeBlock > newSize && firstWholeBlock <= oldSize)
    await image.writeZeroes(newSize, Math.min(firstWholeBlock, oldSize) - newSize);
  if (firstWholeBlock < oldSize) await image.discard(firstWholeBlock, oldSize - firstWholeBlock);
  await image.flush();
}

/** Whether [from, to) holds a nonzero byte. Only blocks present in the file are read. */
export async function holdsData(image: VhdxImage, from: number, to: number): Promise<boolean> {
  const { blockSize } = image.geometry;
  const table = await image.bat();
  const buffer = new Uint8Array(Math.min(8 * MiB, blockSize));
  for (let block = Math.floor(from / blockSize); block * blockSize < to; block++) {
    if (table.payloadState(block) !== PAYLOAD_BLOCK_FULLY_PRESENT) continue;
    const end = Math.min(to, (block + 1) * blockSize);
    for (let at = Math.max(from, block * blockSize); at < end; at += buffer.length) {
      const piece = buffer.subarray(0, Math.min(buffer.length, end - at));
      await image.readInto(piece, at);
      if (!isAllZero(piece)) return true;
    }
  }
  return false;
}

function isAllZero(bytes: Uint8Array): boolean {
  const words = new BigUint64Array(bytes.buffer, bytes.byteOffset, Math.floor(bytes.length / 8));
  for (let i = 0; i < words.length; i++) if (words[i] !== 0n) return false;
  for (let i = words.length * 8; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

/**
 * Growing: the bytes of the old last block past the old end must read as
 * zeros once they are inside the disk. They are, for blocks we or QEMU
 * wrote; a file that ends inside its last block is grown to cover it.
 */
async function zeroOldTail(image: VhdxImage): Promise<void> {
  const { blockSize, payloadBlockCount } = image.geometry;
  const last = payloadBlockCount - 1;
  const table = await image.bat();
  if (table.payloadState(last) !== PAYLOAD_BLOCK_FULLY_PRESENT) return;
  const tailStart = image.virtualSize - last * blockSize;
  if (tailStart === blockSize) return;
  const blockOffset = table.payloadFileOffset(last);
  const zeros = new Uint8Array(blockSize - tailStart);
  await image.source.write(zeros, blockOffset + tailStart);
  await image.source.flush();
}

/**
 * The BAT for the new geometry: the pages that change, or a whole new BAT
 * region written past the end of the file (and flushed) when the old region
 * is too small. Fixed disks get their new blocks allocated past the end too.
 */
async function batPages(image: VhdxImage, geometry: BatGeometry): Promise<{ pages: Page[]; movedTo: Extent | null }> {
  const table = await image.bat();
  const oldLength = image.geometry.batByteLength;
  const bytes = new Uint8Array(Math.ceil(Math.max(geometry.batByteLength, oldLength) / PAGE) * PAGE);
  bytes.set(table.bytes.subarray(0, Math.min(table.bytes.length, bytes.length)));
  bytes.fill(0, oldLength);
  const region = image.layout.bat;
  let end = Math.ceil((await image.source.size()) / MiB) * MiB;
  let movedTo: Extent | null = null;
  if (geometry.batByteLength > region.length) {
    movedTo = { offset: end, length: Math.ceil(geometry.batByteLength / MiB) * MiB };
    end += movedTo.length;
  }
  if (image.diskType === "fixed") end = allocateFixedBlocks(image, geometry, bytes, end);
  if ((await image.source.size()) < end) await image.source.truncate(end);
  const pages: Page[] = [];
  if (movedTo !== null) {
    await image.source.write(bytes, movedTo.offset);
  } else {
    for (
      let page = Math.floor(Math.min(oldLength, geometry.batByteLength) / PAGE) * PAGE;
      page < geometry.batByteLength;
      page += PAGE
    ) {
      pages.push({ fileOffset: region.fileOffset + page, data: bytes.slice(page, page + PAGE) });
    }
  }
  await image.source.flush();
  return { pages, movedTo };
}

/** New blocks of a fixed disk, FULLY_PRESENT at consecutive offsets from `end`; returns the new end. */
function allocateFixedBlocks(image: VhdxImage, geometry: BatGeometry, bat: Uint8Array, end: number): number {
  const view = new DataView(bat.buffer, bat.byteOffset, bat.byteLength);
  for (let block = image.geometry.payloadBlockCount; block < geometry.payloadBlockCount; block++) {
    const index = payloadBatIndex(geometry, block);
    const offsetMB = end / MiB;
    view.setUint32(index * 8, ((offsetMB % 4096) << 20) | PAYLOAD_BLOCK_FULLY_PRESENT, true);
    view.setUint32(index * 8 + 4, Math.floor(offsetMB / 4096), true);
    end += geometry.blockSize;
  }
  return end;
}

/** Both copies of the region table, pointing at the new BAT region when it moved. */
function regionTablePages(image: VhdxImage, batRegion: Extent | null): Page[] {
  if (batRegion === null) return [];
  const entries = image.regionTable.entries.map((entry) =>
    entry.guid === BAT_REGION_GUID ? { ...entry, fileOffset: batRegion.offset, length: batRegion.length } : entry,
  );
  const table = encodeRegionTable({ ...image.regionTable, entries });
  const pages: Page[] = [];
  for (const copy of [REGION_TABLE_1_OFFSET, REGION_TABLE_2_OFFSET]) {
    for (let page = 0; page < table.length; page += PAGE)
      pages.push({ fileOffset: copy + page, data: table.slice(page, page + PAGE) });
  }
  return pages;
}

/** The page(s) of the metadata region holding the Virtual Disk Size item, with the new size. */
async function sizePages(image: VhdxImage, newSize: number): Promise<Page[]> {
  const entry = findMetadataEntry(image.metadata.table, VIRTUAL_DISK_SIZE_GUID)!;
  const itemOffset = image.metadata.regionOffset + entry.offset;
  const first = Math.floor(itemOffset / PAGE) * PAGE;
  const bytes = await readBytes(image.source, first, Math.ceil((itemOffset + 8 - first) / PAGE) * PAGE, "metadata");
  const view = new DataView(bytes.buffer);
  view.setUint32(itemOffset - first, newSize % 2 ** 32, true);
  view.setUint32(itemOffset - first + 4, Math.floor(newSize / 2 ** 32), true);
  const pages: Page[] = [];
  for (let page = 0; page < bytes.length; page += PAGE)
    pages.push({ fileOffset: first + page, data: bytes.slice(page, page + PAGE) });
  return pages;
}
