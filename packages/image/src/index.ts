export { VhdxError } from "@vhdx/structs";
export type { VhdxErrorCode } from "@vhdx/structs";
export { createImage } from "./create/create-image.js";
export type { CreateDiskType, CreateOptions } from "./create/create-options.js";
export {
  type DiscardOptions,
  type DiscardResult,
  type DiskType,
  type LogReplay,
  VhdxImage,
} from "./image.js";
export { LARGEST_WHOLE_BAT } from "./read/bat-access.js";
export type { WindowScratch } from "./read/bat-pages.js";
export type { DiskExtent, DiskExtentKind } from "./read/extents.js";
export type { OnSalvage, SalvagedRange } from "./read/salvage.js";
export type { StreamOptions } from "./read/stream.js";
export { type CompactOptions, type CompactProgress, type CompactResult, compactImage } from "./maintain/compact.js";
export { type MergeOptions, type MergeProgress, type MergeResult, mergeIntoParent } from "./maintain/merge.js";
export { type MeasureOptions, type Measurement, countDataBlocks, measureImage } from "./maintain/measure.js";
export { type ResizeOptions, type ResizeResult, resizeImage } from "./maintain/resize.js";
export {
  type MinimumResizeResult,
  type MinimumSize,
  minimumSize,
  resizeImageToMinimum,
} from "./maintain/minimum-size.js";
export {
  type SetUserMetadataOptions,
  type UserMetadataItem,
  copyUserMetadata,
  getUserMetadata,
  listUserMetadata,
  removeUserMetadata,
  setUserMetadata,
} from "./maintain/user-metadata.js";
export { type SetParentOptions, type SetParentResult, setParent } from "./maintain/set-parent.js";
export {
  type DiskPropertiesOptions,
  type DiskPropertiesResult,
  setDiskProperties,
} from "./maintain/disk-properties.js";
export { type OpenOptions, openImage } from "./open/open-image.js";
export { type OpenedChains, type UnusedSource, openChains } from "./open/open-chains.js";
export { FORMAT_NAMES, type ProbedFormat, notVhdxError, probeFormat } from "./open/probe-format.js";
export type { ParentCandidate, ParentLocation, ParentResolver } from "./open/parents.js";
export type { Extent, Layout } from "./open/layout.js";
export type { MetadataItems } from "./open/metadata.js";
export { BlobSource } from "./sources/blob-source.js";
export { HttpSource, type HttpSourceOptions } from "./sources/http-source.js";
export { MemorySource, type MemorySourceOptions } from "./sources/memory-source.js";
export { ReadOnlySource } from "./sources/read-only-source.js";
export type { RandomAccessSource } from "./sources/source.js";
export { type CheckOptions, checkImage } from "./check/check-image.js";
export type { CheckFinding, Severity } from "./check/findings.js";
export type { CheckReport, FileRange, ReservedRange } from "./check/report.js";
export type { CheckCode, CheckRule } from "./check/rules.js";
export { type CheckRepair, type RepairOptions, type RepairResult, repairImage } from "./check/repair-image.js";
export { readPartitionTable } from "./partitions/read-partition-table.js";
export type {
  GptLayout,
  Partition,
  PartitionDisk,
  PartitionScheme,
  PartitionTable,
} from "./partitions/partition.js";
