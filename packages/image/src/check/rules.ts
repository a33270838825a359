// The names of the rules checkImage reports, stable like error codes: its own
// rules, then the rules of the @vhdx/structs validators it passes through;
// and the codes its findings carry.
import type { VhdxErrorCode } from "@vhdx/structs";

/**
 * The error code of a finding: the VhdxError code a reader refusing the file
 * throws, or LOG_REPLAY_NEEDED for a log that a read-only reader may refuse
 * to replay (this library replays it in memory).
 */
export type CheckCode = VhdxErrorCode | "LOG_REPLAY_NEEDED";

/** A rule of the check itself. */
type OwnCheckRule =
  // The header section and its headers.
  | "HEADER_SECTION_TRUNCATED"
  | "NO_VALID_HEADER"
  | "HEADER_DAMAGED"
  | "AMBIGUOUS_HEADER"
  | "HEADER_VERSION"
  | "HEADER_RESERVED"
  // The log.
  | "LOG_VERSION"
  | "LOG_LAYOUT"
  | "LOG_PAST_EOF"
  | "LOG_REPLAY_NEEDED"
  | "LOG_CORRUPT"
  // The region tables.
  | "REGION_TABLE_DAMAGED"
  | "NO_VALID_REGION_TABLE"
  | "REGION_TABLES_DIFFER"
  | "REGION_TABLE_RESERVED"
  | "REGION_PAST_EOF"
  | "EMPTY_REGION"
  // The metadata region.
  | "METADATA_TABLE"
  | "METADATA_FLAGS"
  | "ITEM_DECODE"
  | "UNUSED_PARENT_LOCATOR"
  | "DISK_SIZE"
  | "GEOMETRY"
  // The BAT.
  | "BAT_REGION_TOO_SMALL"
  | "BAT_PAST_EOF"
  | "BAT_RESERVED_BITS"
  | "BAD_BLOCK_STATE"
  | "LEGACY_UNMAPPED"
  | "PARTIAL_NOT_DIFFERENCING"
  | "BAD_BITMAP_STATE"
  | "BITMAP_MISSING"
  | "BLOCK_IN_HEADER_SECTION"
  | "BLOCK_PAST_EOF"
  | "BLOCK_OVERLAPS_STRUCTURE"
  | "BLOCK_OVERLAP"
  // Opening the image, and its parent.
  | "PARENT_LINKAGE"
  | "PARENT_SIZE"
  | "OPEN_REFUSED";

/** A rule of a @vhdx/structs validator (region table, metadata table and items, parent locator). */
export type StructureRule =
  | "RESERVED"
  | "SIGNATURE"
  | "ENTRY_COUNT"
  | "ALIGNMENT"
  | "HEADER_SECTION"
  | "LENGTH"
  | "OFFSET"
  | "DUPLICATE_GUID"
  | "REGION_OVERLAP"
  | "MISSING_REGION"
  | "UNKNOWN_REQUIRED_REGION"
  | "ITEM_LENGTH"
  | "ITEM_OFFSET"
  | "ITEM_OVERLAP"
  | "OUTSIDE_REGION"
  | "DUPLICATE_ITEM"
  | "MISSING_ITEM"
  | "UNKNOWN_REQUIRED_ITEM"
  | "USER_ITEM_COUNT"
  | "EMPTY_ITEM"
  | "BLOCK_SIZE"
  | "SECTOR_SIZE"
  | "DISK_SIZE_LIMIT"
  | "SECTOR_MULTIPLE"
  | "UNKNOWN_LOCATOR_TYPE"
  | "DUPLICATE_KEY"
  | "ENTRY_LENGTH"
  | "NUL_CHARACTER"
  | "ODD_LENGTH"
  | "MISSING_PARENT_LINKAGE"
  | "MISSING_PARENT_PATH"
  | "PARENT_LINKAGE_FORMAT";

export type CheckRule = OwnCheckRule | StructureRule;

/** A validator's rule name as a CheckRule: the validators name their rules with plain strings. */
export const structureRule = (rule: string): CheckRule => rule as StructureRule;
