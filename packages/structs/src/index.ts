// Named re-exports only. src/internal/ is private and never re-exported.

export {
  VhdxError,
  type VhdxErrorCode,
  type VhdxErrorDetails,
} from "./errors.js";
export {
  assertValid,
  type Violation,
} from "./violation.js";
export {
  BAT_REGION_GUID,
  DATA_DESCRIPTOR_SIGNATURE,
  DATA_SECTOR_SIGNATURE,
  FILE_IDENTIFIER_OFFSET,
  FILE_IDENTIFIER_SIGNATURE,
  FILE_PARAMETERS_GUID,
  GiB,
  HEADER_1_OFFSET,
  HEADER_2_OFFSET,
  HEADER_SECTION_SIZE,
  HEADER_SIGNATURE,
  HEADER_SIZE,
  KiB,
  KNOWN_METADATA_ITEM_GUIDS,
  KNOWN_REGION_GUIDS,
  LOG_ENTRY_SIGNATURE,
  LOG_SECTOR_SIZE,
  LOGICAL_SECTOR_SIZE_GUID,
  MAX_BLOCK_SIZE,
  MAX_METADATA_ITEM_LENGTH,
  MAX_METADATA_TABLE_ENTRIES,
  MAX_REGION_TABLE_ENTRIES,
  MAX_USER_METADATA_ITEMS,
  MAX_VIRTUAL_DISK_SIZE,
  METADATA_REGION_GUID,
  METADATA_TABLE_SIGNATURE,
  METADATA_TABLE_SIZE,
  MiB,
  MIN_BLOCK_SIZE,
  PARENT_LOCATOR_GUID,
  PHYSICAL_SECTOR_SIZE_GUID,
  REGION_ALIGNMENT,
  REGION_TABLE_1_OFFSET,
  REGION_TABLE_2_OFFSET,
  REGION_TABLE_SIGNATURE,
  REGION_TABLE_SIZE,
  SECTOR_BITMAP_BLOCK_SIZE,
  SECTOR_SIZE_4096,
  SECTOR_SIZE_512,
  TiB,
  VHDX_PARENT_LOCATOR_TYPE_GUID,
  VIRTUAL_DISK_ID_GUID,
  VIRTUAL_DISK_SIZE_GUID,
  ZERO_DESCRIPTOR_SIGNATURE,
} from "./constants.js";
export {
  computeChecksum,
  readStoredChecksum,
  verifyChecksum,
  writeChecksum,
} from "./checksum.js";
export {
  decodeFileIdentifier,
  encodeFileIdentifier,
  FILE_IDENTIFIER_SIZE,
  validateFileIdentifier,
  type FileIdentifier,
  type FileIdentifierInit,
} from "./file-identifier.js";
export {
  computeHeaderChecksum,
  decodeHeader,
  encodeHeader,
  validateHeader,
  verifyHeaderChecksum,
  type Header,
  type HeaderInit,
} from "./header.js";
export {
  decodeRegionTableHeader,
  encodeRegionTableHeader,
  REGION_TABLE_HEADER_SIZE,
  validateRegionTableHeader,
  type RegionTableHeader,
  type RegionTableHeaderInit,
} from "./region-table-header.js";
export {
  decodeRegionTableEntry,
  encodeRegionTableEntry,
  REGION_TABLE_ENTRY_SIZE,
  validateRegionTableEntry,
  type RegionTableEntry,
  type RegionTableEntryInit,
} from "./region-table-entry.js";
export {
  computeRegionTableChecksum,
  decodeRegionTable,
  encodeRegionTable,
  validateRegionTable,
  verifyRegionTableChecksum,
  type RegionTable,
  type RegionTableContext,
  type RegionTableInit,
} from "./region-table.js";
export {
  decodeMetadataTableHeader,
  encodeMetadataTableHeader,
  METADATA_TABLE_HEADER_SIZE,
  validateMetadataTableHeader,
  type MetadataTableHeader,
  type MetadataTableHeaderInit,
} from "./metadata-table-header.js";
export {
  decodeMetadataTableEntry,
  encodeMetadataTableEntry,
  METADATA_TABLE_ENTRY_SIZE,
  validateMetadataTableEntry,
  type MetadataTableEntry,
  type MetadataTableEntryContext,
  type MetadataTableEntryInit,
} from "./metadata-table-entry.js";
export {
  decodeMetadataTable,
  encodeMetadataTable,
  findMetadataEntry,
  validateMetadataTable,
  type MetadataTable,
  type MetadataTableContext,
  type MetadataTableInit,
} from "./metadata-table.js";
export {
  decodeFileParameters,
  encodeFileParameters,
  FILE_PARAMETERS_SIZE,
  validateFileParameters,
  type FileParameters,
  type FileParametersInit,
} from "./file-parameters.js";
export {
  decodeVirtualDiskSize,
  encodeVirtualDiskSize,
  validateVirtualDiskSize,
  VIRTUAL_DISK_SIZE_SIZE,
  type VirtualDiskSizeContext,
} from "./virtual-disk-size.js";
export {
  decodeVirtualDiskId,
  encodeVirtualDiskId,
  VIRTUAL_DISK_ID_SIZE,
} from "./virtual-disk-id.js";
export {
  decodeLogicalSectorSize,
  encodeLogicalSectorSize,
  LOGICAL_SECTOR_SIZE_SIZE,
  validateLogicalSectorSize,
} from "./logical-sector-size.js";
export {
  decodePhysicalSectorSize,
  encodePhysicalSectorSize,
  PHYSICAL_SECTOR_SIZE_SIZE,
  validatePhysicalSectorSize,
} from "./physical-sector-size.js";
export {
  decodeParentLocatorHeader,
  encodeParentLocatorHeader,
  PARENT_LOCATOR_HEADER_SIZE,
  validateParentLocatorHeader,
  type ParentLocatorHeader,
  type ParentLocatorHeaderInit,
} from "./parent-locator-header.js";
export {
  decodeParentLocatorEntry,
  encodeParentLocatorEntry,
  PARENT_LOCATOR_ENTRY_SIZE,
  validateParentLocatorEntry,
  type ParentLocatorEntry,
} from "./parent-locator-entry.js";
export {
  decodeParentLocator,
  encodeParentLocator,
  PARENT_LINKAGE_KEYS,
  PARENT_PATH_KEYS,
  validateParentLocator,
  type ParentLocator,
  type ParentLocatorPair,
} from "./parent-locator.js";
export {
  computeLogEntryChecksum,
  decodeLogEntryHeader,
  descriptorSectorCount,
  encodeLogEntryHeader,
  LOG_DESCRIPTOR_SIZE,
  LOG_ENTRY_HEADER_SIZE,
  validateLogEntryHeader,
  verifyLogEntryChecksum,
  writeLogEntryChecksum,
  type LogEntryHeader,
  type LogEntryHeaderContext,
  type LogEntryHeaderInit,
} from "./log-entry-header.js";
export {
  decodeZeroDescriptor,
  encodeZeroDescriptor,
  validateZeroDescriptor,
  ZERO_DESCRIPTOR_SIZE,
  type LogDescriptorContext,
  type ZeroDescriptor,
  type ZeroDescriptorInit,
} from "./zero-descriptor.js";
export {
  DATA_DESCRIPTOR_SIZE,
  decodeDataDescriptor,
  encodeDataDescriptor,
  validateDataDescriptor,
  type DataDescriptor,
  type DataDescriptorInit,
} from "./data-descriptor.js";
export {
  DATA_SECTOR_DATA_SIZE,
  DATA_SECTOR_SIZE,
  dataSectorSequenceNumber,
  decodeDataSector,
  encodeDataSector,
  joinLogUpdate,
  splitLogUpdate,
  validateDataSector,
  type DataSector,
  type DataSectorInit,
} from "./data-sector.js";
export {
  BAT_ENTRY_SIZE,
  batEntryFileOffset,
  decodeBatEntry,
  encodeBatEntry,
  normalizePayloadState,
  PAYLOAD_BLOCK_FULLY_PRESENT,
  PAYLOAD_BLOCK_NOT_PRESENT,
  PAYLOAD_BLOCK_PARTIALLY_PRESENT,
  PAYLOAD_BLOCK_UNDEFINED,
  PAYLOAD_BLOCK_UNMAPPED,
  PAYLOAD_BLOCK_UNMAPPED_V095,
  PAYLOAD_BLOCK_ZERO,
  readBatEntryState,
  SB_BLOCK_NOT_PRESENT,
  SB_BLOCK_PRESENT,
  validateBatEntry,
  type BatEntry,
  type BatEntryContext,
  type BatEntryInit,
} from "./bat-entry.js";
