export { VhdxError } from "@vhdx/structs";
export type { VhdxErrorCode } from "@vhdx/structs";
export { createImage } from "./create/create-image.js";
export type { CreateDiskType, CreateOptions } from "./create/create-options.js";
export { type DiskType, type LogReplay, VhdxImage } from "./image.js";
export { LARGEST_WHOLE_BAT } from "./read/bat-access.js";
export { type CompactOptions, type CompactProgress, type CompactResult, compactImage } from "./maintain/compact.js";
export { type MergeOptions, type MergeProgress, type MergeResult, mergeIntoParent } from "./maintain/merge.js";
export { type ResizeOptions, type ResizeResult, resizeImage } from "./maintain/resize.js";
export { type OpenOptions, openImage } from "./open/open-image.js";
export { FORMAT_NAMES, type ProbedFormat, notVhdxError, probeFormat } from "./open/probe-format.js";
export type { ParentCandidate, ParentLocation, ParentResolver } from "./open/parents.js";
export type { Extent, Layout } from "./open/layout.js";
export type { MetadataItems } from "./open/metadata.js";
export { BlobSource } from "./sources/blob-source.js";
export {
  FaultInjectingSource,
  type FaultInjectingOptions,
  type PowerCutMode,
} from "./sources/fault-injecting-source.js";
export { HttpSource, type HttpSourceOptions } from "./sources/http-source.js";
export { MemorySource, type MemorySourceOptions } from "./sources/memory-source.js";
export { ReadOnlySource } from "./sources/read-only-source.js";
export { type RandomAccessSource, readExactly } from "./sources/source.js";
