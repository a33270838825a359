// Check rules of the BAT (MS-VHDX 2.5): every entry's state, its reserved
// bits, where its block lies (past the header section, inside the file, over
// no structure and no other block), the sector bitmap a PARTIALLY_PRESENT
// block needs, and file space nothing refers to (file-space.ts sorts it into
// padding, preallocated and leaked).
//
// The BAT is streamed in pieces (bat-stream.ts), so memory stays bounded
// whatever its size: 12 MiB of pieces, plus two bits per MiB of the file (a
// 64 TiB file costs 16 MiB). Blocks that overlap another block are found in one pass; a second
// pass, only when there are some, names the block each one overlaps.
import { MAX_SAFE_FILE_OFFSET_MB, PAYLOAD_STATE_NAMES } from "@vhdx/bat";
import type { RandomAccessSource } from "@vhdx/image";
import { METADATA_REGION_GUID, MiB, type RegionTableEntry } from "@vhdx/structs";
import { forEachBatEntry } from "./bat-stream.js";
import { type FileRange, MiBUnits, type UnreferencedSpace, sortUnreferenced } from "./file-space.js";
import { type Findings, hex } from "./findings.js";
import { type Extent, regionName } from "./header-section.js";
import type { MetadataState } from "./metadata.js";

/** Overlaps whose first owner the second pass looks for; more are reported without it. */
const MAX_NAMED_OVERLAPS = 1000;

export interface BatScan extends UnreferencedSpace {
  /** Payload blocks with data in this file (FULLY_PRESENT, or PARTIALLY_PRESENT in a differencing disk). */
  allocatedBlocks: number;
  totalBlocks: number;
  /** Bytes of BAT read (the BAT itself is never held whole). */
  batBytes: number;
}

interface Overlap {
  index: number;
  what: string;
  offset: number;
  length: number;
  owner: string | null;
}

export async function checkBat(
  source: RandomAccessSource,
  region: RegionTableEntry,
  metadata: MetadataState,
  structures: readonly Extent[],
  fileSize: number,
  findings: Findings,
  onProgress: (done: number, total: number) => void = () => {},
): Promise<BatScan | null> {
  const { geometry } = metadata;
  const { batEntryCount, batByteLength, chunkRatio, blockSize, virtualSize, hasParent, payloadBlockCount } = geometry;
  const batOffset = region.fileOffset;
  const entryAt = (index: number) => batOffset + index * 8;
  if (region.length < batByteLength) {
    findings.error({
      rule: "BAT_REGION_TOO_SMALL",
      code: "CORRUPT_BAT",
      structure: "region table",
      offset: batOffset,
      message: `the BAT region holds ${region.length} bytes but the disk's geometry needs ${batEntryCount} entries (${batByteLength} bytes)`,
    });
    return null;
  }
  if (batOffset + batByteLength > fileSize) {
    findings.error({
      rule: "BAT_PAST_EOF",
      code: "TRUNCATED",
      structure: "BAT",
      offset: batOffset,
      message: `the BAT ends at ${hex(batOffset + batByteLength)}, past the end of the file (${hex(fileSize)})`,
    });
    return null;
  }

  const used = new MiBUnits(fileSize);
  const referenced = new MiBUnits(fileSize);
  for (const extent of structures) {
    if (extent.offset < fileSize) used.mark(extent.offset, Math.min(extent.length, fileSize - extent.offset));
  }
  const overlaps: Overlap[] = [];
  const overlapUnits = new MiBUnits(fileSize);
  let allocatedBlocks = 0;
  let chunkHasPartial = false;
  let partialBlockTail: FileRange | null = null;

  const blockLength = (block: number) => Math.min(blockSize, virtualSize - block * blockSize);
  const lastBlockLength = blockLength(payloadBlockCount - 1);

  /** A block this entry says holds data: where it lies. Returns whether its placement is sound. */
  const placeBlock = (index: number, mb: number, length: number, what: string): boolean => {
    const where = { structure: "BAT", offset: entryAt(index), code: "CORRUPT_BAT" };
    const offset = mb * MiB;
    if (mb === 0) {
      findings.error({ ...where, rule: "BLOCK_IN_HEADER_SECTION", message: `${what} (entry ${index}) is present at FileOffsetMB 0, inside the header section` });
      return false;
    }
    if (mb > MAX_SAFE_FILE_OFFSET_MB || offset + length > fileSize) {
      const range = mb > MAX_SAFE_FILE_OFFSET_MB ? `FileOffsetMB ${mb}` : `${hex(offset)}-${hex(offset + length)}`;
      findings.error({ ...where, rule: "BLOCK_PAST_EOF", message: `${what} (entry ${index}) points at ${range}, past the end of the file (${hex(fileSize)})` });
      return false;
    }
    if (!used.mark(offset, length)) return true;
    const structure = structures.find((s) => s.offset < offset + length && offset < s.offset + s.length);
    if (structure !== undefined) {
      findings.error({
        ...where,
        rule: "BLOCK_OVERLAPS_STRUCTURE",
        message: `${what} (entry ${index}) at ${hex(offset)}-${hex(offset + length)} overlaps the ${structure.name} (${hex(structure.offset)}-${hex(structure.offset + structure.length)})`,
      });
    } else if (overlaps.length < MAX_NAMED_OVERLAPS) {
      overlaps.push({ index, what, offset, length, owner: null });
      overlapUnits.mark(offset, length);
    } else {
      findings.error({ ...where, rule: "BLOCK_OVERLAP", message: `${what} (entry ${index}) at ${hex(offset)}-${hex(offset + length)} overlaps another block` });
    }
    return false;
  };

  /** Space an entry that holds no data still points at: not leaked, never an error. */
  const keep = (mb: number, length: number) => {
    if (mb !== 0 && mb <= MAX_SAFE_FILE_OFFSET_MB && mb * MiB < fileSize) referenced.mark(mb * MiB, Math.min(length, fileSize - mb * MiB));
  };

  const visit = (index: number, low: number, high: number) => {
    const state = low & 7;
    const mb = (low >>> 20) + high * 4096;
    if ((low >>> 3) & 0x1ffff) {
      findings.warning({
        rule: "BAT_RESERVED_BITS",
        structure: "BAT",
        offset: entryAt(index),
        message: `entry ${index} has reserved bits 3-19 set (0x${((low >>> 3) & 0x1ffff).toString(16)}); readers ignore them`,
      });
    }
    const group = Math.floor(index / (chunkRatio + 1));
    const where = { structure: "BAT", offset: entryAt(index) };
    if (index % (chunkRatio + 1) === chunkRatio) {
      const chunk = group;
      const what = `sector bitmap block of chunk ${chunk}`;
      if (state === 6 && hasParent) {
        placeBlock(index, mb, MiB, what);
      } else {
        if (state !== 0) {
          findings.error({
            ...where,
            rule: "BAD_BITMAP_STATE",
            code: "CORRUPT_BITMAP",
            message: `the ${what} (entry ${index}) has state ${state}; ${hasParent ? "only NOT_PRESENT (0) and PRESENT (6) are defined" : "only NOT_PRESENT (0) is valid outside a differencing disk"}`,
          });
        }
        keep(mb, MiB);
        if (chunkHasPartial) {
          findings.error({
            ...where,
            rule: "BITMAP_MISSING",
            code: "CORRUPT_BITMAP",
            message: `chunk ${chunk} has PARTIALLY_PRESENT blocks but its sector bitmap block (entry ${index}) is not present`,
          });
        }
      }
      chunkHasPartial = false;
      return;
    }
    const block = index - group;
    const what = `payload block ${block}`;
    if (block === payloadBlockCount - 1 && lastBlockLength < blockSize && mb !== 0 && mb <= MAX_SAFE_FILE_OFFSET_MB) {
      partialBlockTail = { offset: mb * MiB + lastBlockLength, length: blockSize - lastBlockLength };
    }
    switch (state) {
      case 6:
        allocatedBlocks++;
        placeBlock(index, mb, blockLength(block), what);
        return;
      case 7:
        if (hasParent) {
          allocatedBlocks++;
          chunkHasPartial = true;
          placeBlock(index, mb, blockLength(block), what);
        } else {
          findings.error({
            ...where,
            rule: "PARTIAL_NOT_DIFFERENCING",
            code: "CORRUPT_BAT",
            message: `${what} (entry ${index}) is PARTIALLY_PRESENT, which is valid only in a differencing disk`,
          });
          keep(mb, blockLength(block));
        }
        return;
      case 4:
        findings.error({ ...where, rule: "BAD_BLOCK_STATE", code: "CORRUPT_BAT", message: `${what} (entry ${index}) has the reserved state 4, which no reader can interpret` });
        keep(mb, blockLength(block));
        return;
      case 5:
        findings.warning({
          ...where,
          rule: "LEGACY_UNMAPPED",
          message: `${what} (entry ${index}) has state 5, the v0.95 draft's ${PAYLOAD_STATE_NAMES[5]}; it reads as zeros`,
        });
        keep(mb, blockLength(block));
        return;
      default:
        keep(mb, blockLength(block));
    }
  };

  await forEachBatEntry(source, batOffset, batEntryCount, chunkRatio + 1, visit, (done) => onProgress(done, batEntryCount));

  if (overlaps.length > 0) {
    // Second pass: the first earlier block over each overlap's MiBs.
    const owners = (index: number, low: number, high: number) => {
      const state = low & 7;
      const sectorBitmap = index % (chunkRatio + 1) === chunkRatio;
      const holdsData = sectorBitmap ? state === 6 && hasParent : state === 6 || (state === 7 && hasParent);
      if (!holdsData) return;
      const mb = (low >>> 20) + high * 4096;
      if (mb === 0 || mb > MAX_SAFE_FILE_OFFSET_MB) return;
      const block = index - Math.floor(index / (chunkRatio + 1));
      const length = sectorBitmap ? MiB : blockLength(block);
      const offset = mb * MiB;
      if (offset + length > fileSize || !overlapUnits.any(offset, length)) return;
      for (const overlap of overlaps) {
        if (overlap.owner === null && index < overlap.index && offset < overlap.offset + overlap.length && overlap.offset < offset + length) {
          overlap.owner = `${sectorBitmap ? `the sector bitmap block of chunk ${Math.floor(index / (chunkRatio + 1))}` : `payload block ${block}`} (entry ${index}, ${hex(offset)}-${hex(offset + length)})`;
        }
      }
    };
    await forEachBatEntry(source, batOffset, batEntryCount, chunkRatio + 1, owners, () => {});
    for (const overlap of overlaps) {
      findings.error({
        rule: "BLOCK_OVERLAP",
        code: "CORRUPT_BAT",
        structure: "BAT",
        offset: entryAt(overlap.index),
        message: `${overlap.what} (entry ${overlap.index}) at ${hex(overlap.offset)}-${hex(overlap.offset + overlap.length)} overlaps ${overlap.owner ?? "another block"}`,
      });
    }
  }

  const metadataRegion = structures.find((e) => e.name === regionName(METADATA_REGION_GUID)) ?? null;
  const fixed = metadata.fileParameters.leaveBlockAllocated && !hasParent;
  const preallocatable = fixed ? (payloadBlockCount - 1) * blockSize + Math.ceil(lastBlockLength / MiB) * MiB : 0;
  const space = sortUnreferenced(used, referenced, { fileSize, structures, metadataRegion, partialBlockTail, preallocatable });
  return { allocatedBlocks, totalBlocks: payloadBlockCount, ...space, batBytes: batByteLength };
}
