// The bytes of a new VHDX file, laid out as Windows does (MS-VHDX 2.1):
//
// | file offset        | size                     | what                                              |
// |--------------------|--------------------------|---------------------------------------------------|
// | 0                  | 64 KiB                   | file type identifier (2.2.1): "vhdxfile", creator |
// | 64 KiB, 128 KiB    | 4 KiB each               | headers (2.2.2), same contents, sequence 1 and 2  |
// | 192 KiB, 256 KiB   | 64 KiB each              | region table (2.2.3) and its copy; Required = 1   |
// | 1 MiB              | 1 MiB                    | log (2.3), all zeros, LogGuid nil                 |
// | 2 MiB              | 1 MiB (more if needed)   | metadata region (2.6): table, items 4 KiB-aligned |
// | 3 MiB              | BAT bytes rounded to MiB | BAT (2.5)                                         |
// | after the BAT      | blocks x BlockSize       | fixed only: every payload block, in block order   |
//
// Metadata items and their flags follow the table of 2.6.2: every item is a
// required system item; Virtual Disk Size, Virtual Disk ID and the two sector
// sizes are IsVirtualDisk; File Parameters and the Parent Locator are not.
import { type BatGeometry, computeGeometry } from "@vhdx/bat";
import { NIL_GUID, randomGuid } from "@vhdx/guid";
import {
  BAT_REGION_GUID,
  FILE_PARAMETERS_GUID,
  HEADER_SECTION_SIZE,
  LOGICAL_SECTOR_SIZE_GUID,
  MAX_METADATA_ITEM_LENGTH,
  METADATA_REGION_GUID,
  METADATA_TABLE_SIZE,
  MiB,
  PARENT_LOCATOR_GUID,
  PAYLOAD_BLOCK_FULLY_PRESENT,
  PHYSICAL_SECTOR_SIZE_GUID,
  VHDX_PARENT_LOCATOR_TYPE_GUID,
  VIRTUAL_DISK_ID_GUID,
  VIRTUAL_DISK_SIZE_GUID,
  encodeFileIdentifier,
  encodeFileParameters,
  encodeHeader,
  encodeLogicalSectorSize,
  encodeMetadataTable,
  encodeParentLocator,
  encodePhysicalSectorSize,
  encodeRegionTable,
  encodeVirtualDiskId,
  encodeVirtualDiskSize,
} from "@vhdx/structs";
import { type CreatePlan, invalidArgument } from "./create-options.js";

/** A metadata item to store: its identity, flags and bytes. */
export interface NewMetadataItem {
  itemId: string;
  isUser: boolean;
  isVirtualDisk: boolean;
  isRequired: boolean;
  data: Uint8Array;
}

export interface CreateLayout {
  geometry: BatGeometry;
  logOffset: number;
  logLength: number;
  metadataOffset: number;
  metadataLength: number;
  batOffset: number;
  batLength: number;
  /** Where payload block 0 of a fixed disk lies (the end of the BAT region). */
  firstBlockOffset: number;
  /** The file's length: the end of the BAT region, or of the last block of a fixed disk. */
  fileSize: number;
}

const LOG_OFFSET = HEADER_SECTION_SIZE;
const LOG_LENGTH = MiB;
const ITEM_ALIGNMENT = 4096;

const roundUp = (value: number, unit: number) => Math.ceil(value / unit) * unit;

/** Where everything goes, for a metadata region of `metadataBytes` bytes. */
export function planLayout(plan: CreatePlan, metadataBytes: number): CreateLayout {
  const geometry = computeGeometry({
    virtualSize: plan.size,
    blockSize: plan.blockSize,
    logicalSectorSize: plan.logicalSectorSize,
    hasParent: plan.type === "differencing",
  });
  const metadataOffset = LOG_OFFSET + LOG_LENGTH;
  const metadataLength = Math.max(MiB, roundUp(metadataBytes, MiB));
  const batOffset = metadataOffset + metadataLength;
  const batLength = Math.max(MiB, roundUp(geometry.batByteLength, MiB));
  const firstBlockOffset = batOffset + batLength;
  const payload = plan.type === "fixed" ? geometry.payloadBlockCount * plan.blockSize : 0;
  return {
    geometry,
    logOffset: LOG_OFFSET,
    logLength: LOG_LENGTH,
    metadataOffset,
    metadataLength,
    batOffset,
    batLength,
    firstBlockOffset,
    fileSize: firstBlockOffset + payload,
  };
}

/** The system items of 2.6.2 for `plan`, then `extra` (items inherited from a parent). */
export function metadataItems(plan: CreatePlan, extra: readonly NewMetadataItem[] = []): NewMetadataItem[] {
  const system = (itemId: string, isVirtualDisk: boolean, data: Uint8Array): NewMetadataItem => ({
    itemId,
    isUser: false,
    isVirtualDisk,
    isRequired: true,
    data,
  });
  const items = [
    system(
      FILE_PARAMETERS_GUID,
      false,
      encodeFileParameters({
        blockSize: plan.blockSize,
        leaveBlockAllocated: plan.type === "fixed",
        hasParent: plan.type === "differencing",
      }),
    ),
    system(VIRTUAL_DISK_SIZE_GUID, true, encodeVirtualDiskSize(plan.size)),
    system(VIRTUAL_DISK_ID_GUID, true, encodeVirtualDiskId(plan.virtualDiskId)),
    system(LOGICAL_SECTOR_SIZE_GUID, true, encodeLogicalSectorSize(plan.logicalSectorSize)),
    system(PHYSICAL_SECTOR_SIZE_GUID, true, encodePhysicalSectorSize(plan.physicalSectorSize)),
  ];
  if (plan.parentLocator !== null) {
    const locator = encodeParentLocator({ locatorType: VHDX_PARENT_LOCATOR_TYPE_GUID, entries: plan.parentLocator });
    if (locator.length > MAX_METADATA_ITEM_LENGTH) {
      throw invalidArgument(`the parent locator would be ${locator.length} bytes, a metadata item holds at most 1 MiB`);
    }
    items.push(system(PARENT_LOCATOR_GUID, false, locator));
  }
  return [...items, ...extra];
}

/** The metadata region's used bytes: the 64 KiB table, then each item at the next 4 KiB boundary. */
export function encodeMetadataRegion(items: readonly NewMetadataItem[]): Uint8Array {
  let next = METADATA_TABLE_SIZE;
  const entries = items.map((item) => {
    const offset = item.data.length === 0 ? 0 : next;
    next += roundUp(item.data.length, ITEM_ALIGNMENT);
    const { itemId, isUser, isVirtualDisk, isRequired } = item;
    return { itemId, offset, length: item.data.length, isUser, isVirtualDisk, isRequired };
  });
  const region = new Uint8Array(next);
  region.set(encodeMetadataTable({ entries }), 0);
  items.forEach((item, i) => region.set(item.data, entries[i]!.offset));
  return region;
}

/** The file identifier, the header (both slots hold it, sequence 1 and 2), and the region table (both copies). */
export function encodeHeaderSection(plan: CreatePlan, layout: CreateLayout) {
  const fileWriteGuid = randomGuid();
  const dataWriteGuid = randomGuid();
  const header = (sequenceNumber: bigint) =>
    encodeHeader({
      sequenceNumber,
      fileWriteGuid,
      dataWriteGuid,
      logGuid: NIL_GUID,
      logVersion: 0,
      version: 1,
      logLength: layout.logLength,
      logOffset: layout.logOffset,
    });
  const regionTable = encodeRegionTable({
    entries: [
      { guid: BAT_REGION_GUID, fileOffset: layout.batOffset, length: layout.batLength, required: true },
      { guid: METADATA_REGION_GUID, fileOffset: layout.metadataOffset, length: layout.metadataLength, required: true },
    ],
  });
  return {
    fileIdentifier: encodeFileIdentifier({ creator: plan.creator }),
    header1: header(1n),
    header2: header(2n),
    regionTable,
  };
}

/**
 * Fills `chunk` with the fixed disk's BAT entries from entry `firstIndex`:
 * payload block b is FULLY_PRESENT at firstBlockOffset + b * BlockSize; the
 * sector bitmap entries (every chunkRatio + 1-th) stay NOT_PRESENT (2.5.1.2).
 */
export function fillFixedBat(chunk: Uint8Array, firstIndex: number, layout: CreateLayout): void {
  const { chunkRatio, blockSize, batEntryCount } = layout.geometry;
  const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  const count = Math.min(chunk.length / 8, batEntryCount - firstIndex);
  chunk.fill(0);
  for (let i = 0; i < count; i++) {
    const index = firstIndex + i;
    const position = index % (chunkRatio + 1);
    if (position === chunkRatio) continue;
    const block = ((index - position) / (chunkRatio + 1)) * chunkRatio + position;
    const offsetMB = (layout.firstBlockOffset + block * blockSize) / MiB;
    view.setUint32(i * 8, (offsetMB % 4096) * 2 ** 20 + PAYLOAD_BLOCK_FULLY_PRESENT, true);
    view.setUint32(i * 8 + 4, Math.floor(offsetMB / 4096), true);
  }
}
