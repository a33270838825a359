export { type CreateVhdxOptions, createVhdx } from "./create-vhdx.js";
export type { Preallocation } from "./preallocate.js";
export { type CompactVhdxOptions, compactVhdx } from "./compact-vhdx.js";
export { FileSource, type FileSourceOptions } from "./file-source.js";
export { type FileStretch, canSeekData } from "./seek-data.js";
export { type MergeVhdxOptions, type MergeVhdxResult, mergeVhdx } from "./merge-vhdx.js";
export { resizeVhdx, resizeVhdxToMinimum } from "./resize-vhdx.js";
export {
  type SetVhdxParentOptions,
  removeVhdxUserMetadata,
  setVhdxParent,
  setVhdxProperties,
  setVhdxUserMetadata,
} from "./metadata-vhdx.js";
export {
  type FileParentResolverOptions,
  type OpenVhdxOptions,
  createFileParentResolver,
  openVhdx,
} from "./open-vhdx.js";
export { type CheckVhdxOptions, checkVhdx, repairVhdx } from "./check-vhdx.js";
