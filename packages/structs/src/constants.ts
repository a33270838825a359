// Layout, limits and the GUIDs MS-VHDX names (sections 2.1, 2.2, 2.2.3, 2.6.1, 2.6.2).
// GUIDs are lower-case text, as @vhdx/guid produces them.

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;
export const TiB = 1024 * GiB;

// The 1 MiB header section (2.2).
export const FILE_IDENTIFIER_OFFSET = 0;
export const HEADER_1_OFFSET = 0x10000;
export const HEADER_2_OFFSET = 0x20000;
export const REGION_TABLE_1_OFFSET = 0x30000;
export const REGION_TABLE_2_OFFSET = 0x40000;
export const HEADER_SECTION_SIZE = 0x100000;

export const HEADER_SIZE = 4 * KiB;
export const REGION_TABLE_SIZE = 64 * KiB;
export const METADATA_TABLE_SIZE = 64 * KiB;
export const LOG_SECTOR_SIZE = 4 * KiB;
/** Everything after the header section sits at a multiple of this. */
export const REGION_ALIGNMENT = MiB;
export const SECTOR_BITMAP_BLOCK_SIZE = MiB;

// Limits.
export const MAX_REGION_TABLE_ENTRIES = 2047;
export const MAX_METADATA_TABLE_ENTRIES = 2047;
export const MAX_USER_METADATA_ITEMS = 1024;
export const MAX_METADATA_ITEM_LENGTH = MiB;
export const MIN_BLOCK_SIZE = MiB;
export const MAX_BLOCK_SIZE = 256 * MiB;
export const MAX_VIRTUAL_DISK_SIZE = 64 * TiB;
export const SECTOR_SIZE_512 = 512;
export const SECTOR_SIZE_4096 = 4096;

// Signatures, as the one-byte characters stored.
export const FILE_IDENTIFIER_SIGNATURE = "vhdxfile";
export const HEADER_SIGNATURE = "head";
export const REGION_TABLE_SIGNATURE = "regi";
export const METADATA_TABLE_SIGNATURE = "metadata";
export const LOG_ENTRY_SIGNATURE = "loge";
export const ZERO_DESCRIPTOR_SIGNATURE = "zero";
export const DATA_DESCRIPTOR_SIGNATURE = "desc";
export const DATA_SECTOR_SIGNATURE = "data";

// Regions (2.2.3.2).
export const BAT_REGION_GUID = "2dc27766-f623-4200-9d64-115e9bfd4a08";
export const METADATA_REGION_GUID = "8b7ca206-4790-4b9a-b8fe-575f050f886e";

// Metadata items (2.6.2).
export const FILE_PARAMETERS_GUID = "caa16737-fa36-4d43-b3b6-33f0aa44e76b";
export const VIRTUAL_DISK_SIZE_GUID = "2fa54224-cd1b-4876-b211-5dbed83bf4b8";
export const VIRTUAL_DISK_ID_GUID = "beca12ab-b2e6-4523-93ef-c309e000c746";
export const LOGICAL_SECTOR_SIZE_GUID = "8141bf1d-a96f-4709-ba47-f233a8faab5f";
export const PHYSICAL_SECTOR_SIZE_GUID = "cda348c7-445d-4471-9cc9-e9885251c556";
export const PARENT_LOCATOR_GUID = "a8d35f2d-b30b-454d-abf7-d3d84834ab0c";

// Parent locator type (2.6.2.6.3).
export const VHDX_PARENT_LOCATOR_TYPE_GUID = "b04aefb7-d19e-4a81-b789-25b8e9445913";

/** Regions this package knows; both are required. */
export const KNOWN_REGION_GUIDS: readonly string[] = [BAT_REGION_GUID, METADATA_REGION_GUID];

/** System metadata items this package knows (IsUser clear). */
export const KNOWN_METADATA_ITEM_GUIDS: readonly string[] = [
  FILE_PARAMETERS_GUID,
  VIRTUAL_DISK_SIZE_GUID,
  VIRTUAL_DISK_ID_GUID,
  LOGICAL_SECTOR_SIZE_GUID,
  PHYSICAL_SECTOR_SIZE_GUID,
  PARENT_LOCATOR_GUID,
];
