// Resize-VHD -ToMinimumSize: the smallest size that keeps every partition,
// from the disk's partition table (partitions/read-partition-table.ts), rounded
// up to a MiB. An MBR disk needs nothing past its last partition. A GPT disk
// keeps its backup GPT (the entry array and the header, 33 sectors of 512
// bytes as usual) at its last LBAs: shrinking moves it to the new end and
// points the primary header at it (AlternateLBA, LastUsableLBA, both CRCs),
// which is a change of the partition table, as Hyper-V makes. The new copy is
// written and flushed, then the primary header: a cut in between leaves a
// valid primary and backup, the backup merely not at the disk's end yet.
// qemu-img knows no partitions and only refuses to shrink over data.
import { VhdxError } from "@vhdx/structs";
import type { VhdxImage } from "../image.js";
import { type ResizeOptions, type ResizeResult, holdsData, resizeImage } from "./resize.js";
import { crc32 } from "../partitions/crc32.js";
import type { PartitionTable } from "../partitions/partition.js";
import { readPartitionTable } from "../partitions/read-partition-table.js";

const MiB = 1024 * 1024;
const HEADER_CRC_OFFSET = 16;

export interface MinimumSize {
  /** The size to shrink to (the current size when nothing can be cut). */
  size: number;
  scheme: "gpt" | "mbr";
  /** Where the last partition ends, in bytes. */
  partitionsEnd: number;
  /** GPT: the bytes the backup GPT needs at the end of the disk; 0 for MBR. */
  backupGptBytes: number;
  /** GPT: where the backup GPT is now, [start, end) in bytes (its entry array, then its header); null for MBR. */
  backupGpt: { start: number; end: number } | null;
}

/** The smallest size keeping every partition of `image`'s disk; refuses a disk without a usable table. */
export async function minimumSize(image: VhdxImage): Promise<MinimumSize> {
  const table = await readPartitionTable(image);
  if (table.scheme === "none") {
    throw new VhdxError(
      "UNSUPPORTED",
      `${image.source.name} has no partition table (no MBR, no GPT), so its minimum size is unknown; give a size instead`,
    );
  }
  if (table.scheme === "gpt" && (table.gpt === undefined || table.gpt.headerUsed !== "primary")) {
    throw new VhdxError(
      "UNSUPPORTED",
      `the primary GPT of ${image.source.name} is damaged or missing (${table.findings.join("; ") || "no header"}); repair the partition table first`,
    );
  }
  const partitionsEnd = Math.max(0, ...table.partitions.map((p) => p.start + p.size));
  const sector = table.sectorSize;
  const backupGptBytes = table.gpt === undefined ? 0 : (entrySectors(table, sector) + 1) * sector;
  const firstUsableEnd = table.gpt === undefined ? sector : table.gpt.firstUsableLba * sector;
  const needed = Math.max(partitionsEnd, firstUsableEnd) + backupGptBytes;
  const size = Math.min(image.virtualSize, Math.ceil(needed / MiB) * MiB);
  const backupGpt =
    table.gpt === undefined
      ? null
      : { start: (table.gpt.backupLba + 1) * sector - backupGptBytes, end: (table.gpt.backupLba + 1) * sector };
  return { size, scheme: table.scheme, partitionsEnd, backupGptBytes, backupGpt };
}

function entrySectors(table: PartitionTable, sector: number): number {
  const { entryCount, entrySize } = table.gpt!;
  return Math.ceil((entryCount * entrySize) / sector);
}

/**
 * Moves the backup GPT of `image`'s disk to the last LBAs of a disk of
 * `newSize` bytes and points the primary header at it; the old backup is
 * zeroed, so nothing of it is left past the new end. Flushed.
 */
async function moveBackupGpt(image: VhdxImage, newSize: number): Promise<void> {
  const table = await readPartitionTable(image);
  const gpt = table.gpt;
  if (table.scheme !== "gpt" || gpt === undefined || gpt.headerUsed !== "primary") return;
  const sector = table.sectorSize;
  const entries = entrySectors(table, sector);
  const newLast = newSize / sector - 1;
  const oldLast = gpt.backupLba;
  if (newLast === oldLast) return;
  const partitionsEnd = Math.max(0, ...table.partitions.map((p) => p.start + p.size));
  if (partitionsEnd > (newLast - entries) * sector)
    throw new VhdxError(
      "INVALID_ARGUMENT",
      `a disk of ${newSize} bytes has no room for the backup GPT after the last partition`,
    );
  const primary = await image.read(gpt.primaryLba * sector, sector);
  const array = await image.read(gpt.entryArrayLba * sector, entries * sector);
  const lastUsable = newLast - entries - 1;
  const newPrimary = withFields(primary, { alternateLba: newLast, lastUsableLba: lastUsable });
  const backup = withFields(primary, {
    myLba: newLast,
    alternateLba: gpt.primaryLba,
    lastUsableLba: lastUsable,
    entryArrayLba: newLast - entries,
  });
  await image.write((newLast - entries) * sector, array);
  await image.write(newLast * sector, backup);
  await image.flush();
  await image.write(gpt.primaryLba * sector, newPrimary);
  const mbr = await image.read(0, sector);
  if (resizeProtectiveMbr(mbr, oldLast, newLast)) await image.write(0, mbr);
  await image.flush();
  const oldStart = (oldLast - entries) * sector;
  if (oldStart >= newSize && (oldLast + 1) * sector <= image.virtualSize)
    await image.writeZeroes(oldStart, (entries + 1) * sector);
}

export interface MinimumResizeResult extends ResizeResult {
  minimum: MinimumSize;
}

/**
 * Shrinks `image` (fixed or dynamic, opened read-write) to minimumSize, then
 * closes it. Data past the new end outside the backup GPT (bytes no
 * partition holds) is refused unless `force`; the backup GPT moves.
 */
export async function resizeImageToMinimum(
  image: VhdxImage,
  options: ResizeOptions = {},
): Promise<MinimumResizeResult> {
  let minimum: MinimumSize;
  try {
    if (image.readOnly) throw new VhdxError("READ_ONLY", `cannot resize ${image.source.name}: it is open read-only`);
    if (image.diskType === "differencing")
      throw new VhdxError(
        "UNSUPPORTED",
        "a differencing disk takes its size from its parent; resize the parent, or merge first",
      );
    minimum = await minimumSize(image);
    const oldSize = image.virtualSize;
    if (minimum.size >= oldSize) return { oldSize, newSize: oldSize, batMoved: false, minimum };
    if (!options.force && (await holdsDataOutside(image, minimum.size, oldSize, minimum.backupGpt))) {
      throw new VhdxError(
        "INVALID_ARGUMENT",
        `${image.source.name} holds data past its last partition (after ${minimum.size} bytes); shrinking would lose it (force to shrink anyway)`,
      );
    }
    await moveBackupGpt(image, minimum.size);
  } catch (error) {
    await image.close();
    throw error;
  }
  return { ...(await resizeImage(image, minimum.size, { force: true })), minimum };
}

/**
 * The protective MBR's 0xEE entry covers LBA 1 to the disk's end (its size at
 * most 0xFFFFFFFF sectors): when it covered the old end, it covers the new
 * one. Returns whether `mbr` changed.
 */
function resizeProtectiveMbr(mbr: Uint8Array, oldLast: number, newLast: number): boolean {
  const view = new DataView(mbr.buffer, mbr.byteOffset, mbr.byteLength);
  const cap = (sectors: number) => Math.min(sectors, 0xffffffff);
  for (let entry = 446; entry < 510; entry += 16) {
    if (mbr[entry + 4] !== 0xee || view.getUint32(entry + 8, true) !== 1) continue;
    if (view.getUint32(entry + 12, true) !== cap(oldLast)) return false;
    view.setUint32(entry + 12, cap(newLast), true);
    return true;
  }
  return false;
}

/** Whether [from, to) holds data outside `skip` (the backup GPT, which moves). */
async function holdsDataOutside(
  image: VhdxImage,
  from: number,
  to: number,
  skip: { start: number; end: number } | null,
): Promise<boolean> {
  if (skip === null || skip.end <= from || skip.start >= to) return holdsData(image, from, to);
  return (
    (skip.start > from && (await holdsData(image, from, skip.start))) ||
    (skip.end < to && (await holdsData(image, skip.end, to)))
  );
}

/** A copy of the header sector with these LBAs set and its CRC-32 computed again. */
function withFields(
  header: Uint8Array,
  fields: { myLba?: number; alternateLba?: number; lastUsableLba?: number; entryArrayLba?: number },
): Uint8Array {
  const copy = header.slice();
  const view = new DataView(copy.buffer, copy.byteOffset, copy.byteLength);
  const set = (offset: number, value: number | undefined) => {
    if (value !== undefined) view.setBigUint64(offset, BigInt(value), true);
  };
  set(24, fields.myLba);
  set(32, fields.alternateLba);
  set(48, fields.lastUsableLba);
  set(72, fields.entryArrayLba);
  const headerSize = view.getUint32(12, true);
  view.setUint32(HEADER_CRC_OFFSET, 0, true);
  view.setUint32(HEADER_CRC_OFFSET, crc32(copy.subarray(0, headerSize)), true);
  return copy;
}
