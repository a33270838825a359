// @vhdx/bat: MS-VHDX 2.4 Blocks and 2.5 BAT (geometry, entries, states, sector bitmaps, read runs).
export {
  BatTable,
  type BatTableOptions,
  type BatWindowOptions,
  MAX_FILE_OFFSET_MB,
  MAX_SAFE_FILE_OFFSET_MB,
} from "./bat-table.js";
// The constants and the state helper of the BAT entry, whose home is @vhdx/structs.
export {
  BAT_ENTRY_SIZE,
  MAX_BLOCK_SIZE,
  MAX_VIRTUAL_DISK_SIZE,
  MIN_BLOCK_SIZE,
  SECTOR_BITMAP_BLOCK_SIZE,
  normalizePayloadState,
} from "@vhdx/structs";
export {
  type BatGeometry,
  chunkOfBlock,
  computeGeometry,
  type GeometryInput,
  payloadBatIndex,
  SECTORS_PER_CHUNK,
  sectorBitmapBatIndex,
} from "./geometry.js";
export { mapRange, type ReadRun, splitPartialRun } from "./runs.js";
export { isSectorPresent, sectorRunLength, setSectorRange } from "./sector-bitmap.js";
export {
  isValidPayloadState,
  isValidSectorBitmapState,
  PAYLOAD_STATE_NAMES,
  type PayloadReadKind,
  payloadReadKind,
  SECTOR_BITMAP_STATE_NAMES,
} from "./states.js";
