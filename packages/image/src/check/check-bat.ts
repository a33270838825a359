// Check rules of the BAT (MS-VHDX 2.5), as passes over its entries: each
// entry's state and reserved bits (entry-states.ts), where each block that
// holds data lies (block-placement.ts), and the file space nothing refers to
// (file-space.ts). The BAT is streamed in pieces (bat-stream.ts), so memory
// stays bounded whatever its size: 12 MiB of pieces, plus two bits per MiB of
// the file (a 64 TiB file costs 16 MiB).
import type { BatGeometry } from "@vhdx/bat";
import { METADATA_REGION_GUID, MiB, type RegionTableEntry } from "@vhdx/structs";
import type { Extent } from "../open/layout.js";
import type { RandomAccessSource } from "../sources/source.js";
import { type CheckedEntry, EntryDecoder, holdsData } from "./bat-entries.js";
import { type BytesEqual, forEachBatEntry } from "./bat-stream.js";
import { BlockPlacement } from "./block-placement.js";
import { EntryStates } from "./entry-states.js";
import { SpaceMap, type UnreferencedSpace } from "./file-space.js";
import { type Findings, hex } from "./findings.js";
import type { MetadataState } from "./metadata.js";
import { regionName } from "./region-tables.js";

export interface BatScan extends UnreferencedSpace {
  allocatedBlocks: number;
  totalBlocks: number;
  /** Bytes of BAT read. */
  batBytes: number;
}

export interface BatCheck {
  source: RandomAccessSource;
  region: RegionTableEntry;
  metadata: MetadataState;
  /** The header section, the log and the regions. */
  structures: readonly Extent[];
  fileSize: number;
  findings: Findings;
  bytesEqual: BytesEqual;
  onProgress?: ((done: number, total: number) => void) | undefined;
}

/** Runs every BAT pass; null when the BAT cannot be read at all (the reason is in the findings). */
export async function checkBat(check: BatCheck): Promise<BatScan | null> {
  const { metadata, structures, fileSize, findings } = check;
  const { geometry } = metadata;
  if (!batFits(check.region, geometry, fileSize, findings)) return null;
  const decoder = new EntryDecoder(geometry, check.region.fileOffset);
  const states = new EntryStates(geometry.hasParent, findings);
  const space = new SpaceMap(fileSize, structures);
  const placement = new BlockPlacement(space.used, structures, fileSize, findings);
  const lastBlock = geometry.payloadBlockCount - 1;

  check.onProgress?.(0, geometry.batEntryCount);
  await streamEntries(check, decoder, (entry) => {
    states.check(entry);
    if (!entry.sectorBitmap && entry.number === lastBlock) space.lastBlock(entry, geometry.blockSize);
    if (holdsData(entry, geometry.hasParent)) placement.place(entry);
    else space.keep(entry);
  });
  if (placement.hasOverlaps) {
    await streamEntries({ ...check, onProgress: undefined }, decoder, (entry) => {
      if (holdsData(entry, geometry.hasParent)) placement.nameOwner(entry);
    });
  }
  placement.reportOverlaps();

  const metadataRegion = structures.find((e) => e.name === regionName(METADATA_REGION_GUID)) ?? null;
  const unreferenced = space.sortUnreferenced({ metadataRegion, preallocatable: preallocatable(metadata, decoder) });
  return {
    allocatedBlocks: states.allocatedBlocks,
    totalBlocks: geometry.payloadBlockCount,
    ...unreferenced,
    batBytes: geometry.batByteLength,
  };
}

function streamEntries(check: BatCheck, decoder: EntryDecoder, visit: (entry: CheckedEntry) => void): Promise<void> {
  const { geometry } = check.metadata;
  const { onProgress } = check;
  return forEachBatEntry(
    {
      source: check.source,
      batOffset: check.region.fileOffset,
      geometry,
      bytesEqual: check.bytesEqual,
      ...(onProgress === undefined ? {} : { onPiece: (done: number) => onProgress(done, geometry.batEntryCount) }),
    },
    (index, table) => visit(decoder.decode(index, table)),
  );
}

/** The BAT region holds the whole BAT, and the file holds the region. */
function batFits(region: RegionTableEntry, geometry: BatGeometry, fileSize: number, findings: Findings): boolean {
  const { batEntryCount, batByteLength } = geometry;
  if (region.length < batByteLength) {
    findings.error({
      rule: "BAT_REGION_TOO_SMALL",
      code: "CORRUPT_BAT",
      structure: "region table",
      offset: region.fileOffset,
      message: `the BAT region holds ${region.length} bytes but the disk's geometry needs ${batEntryCount} entries (${batByteLength} bytes)`,
    });
    return false;
  }
  if (region.fileOffset + batByteLength > fileSize) {
    findings.error({
      rule: "BAT_PAST_EOF",
      code: "TRUNCATED",
      structure: "BAT",
      offset: region.fileOffset,
      message: `the BAT ends at ${hex(region.fileOffset + batByteLength)}, past the end of the file (${hex(fileSize)})`,
    });
    return false;
  }
  return true;
}

/** A fixed disk's payload, which its creator may allocate up front: every block, the last one rounded up to a MiB. */
function preallocatable(metadata: MetadataState, decoder: EntryDecoder): number {
  const { geometry, fileParameters } = metadata;
  if (!fileParameters.leaveBlockAllocated || geometry.hasParent) return 0;
  const last = geometry.payloadBlockCount - 1;
  return last * geometry.blockSize + Math.ceil(decoder.blockLength(last) / MiB) * MiB;
}
