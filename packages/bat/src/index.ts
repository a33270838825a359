// @vhdx/bat: MS-VHDX 2.4 Blocks and 2.5 BAT (geometry, entries, states, sector bitmaps, read runs).
export { BatTable, type BatTableOptions, type BatWindowOptions, MAX_FILE_OFFSET_MB, MAX_SAFE_FILE_OFFSET_MB } from "./bat-table.js";
export {
  BAT_ENTRY_SIZE,
  type BatGeometry,
  chunkOfBlock,
  computeGeometry,
  type GeometryInput,
  MAX_BLOCK_SIZE,
  MAX_VIRTUAL_SIZE,
  MIN_BLOCK_SIZE,
  payloadBatIndex,
  SECTOR_BITMAP_BLOCK_SIZE,
  SECTORS_PER_CHUNK,
  sectorBitmapBatIndex,
} from "./geometry.js";
export { mapRange, type ReadRun, splitPartialRun } from "./runs.js";
export { isSectorPresent, sectorRunLength, setSectorRange } from "./sector-bitmap.js";
export {
  isValidPayloadState,
  isValidSectorBitmapState,
  normalizePayloadState,
  PAYLOAD_STATE_NAMES,
  type PayloadReadKind,
  payloadReadKind,
  SECTOR_BITMAP_STATE_NAMES,
} from "./states.js";
