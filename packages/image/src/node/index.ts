export { type CreateVhdxOptions, createVhdx } from "./create-vhdx.js";
export { type CompactVhdxOptions, compactVhdx } from "./compact-vhdx.js";
export { FileSource, type FileSourceOptions } from "./file-source.js";
export { type FileStretch, canSeekData } from "./seek-data.js";
export { type MergeVhdxOptions, type MergeVhdxResult, mergeVhdx } from "./merge-vhdx.js";
export { resizeVhdx } from "./resize-vhdx.js";
export {
  type FileParentResolverOptions,
  type OpenVhdxOptions,
  createFileParentResolver,
  openVhdx,
} from "./open-vhdx.js";
export { type CheckVhdxOptions, checkVhdx, repairVhdx } from "./check-vhdx.js";
