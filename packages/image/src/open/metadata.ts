// The metadata region (MS-VHDX 2.6): its table, the six system items this
// implementation knows, and every other item kept as found so writes can
// carry them through untouched.
import {
  FILE_PARAMETERS_GUID,
  type FileParameters,
  LOGICAL_SECTOR_SIZE_GUID,
  METADATA_TABLE_SIZE,
  type MetadataTable,
  type MetadataTableEntry,
  PARENT_LOCATOR_GUID,
  PHYSICAL_SECTOR_SIZE_GUID,
  type ParentLocator,
  type RegionTableEntry,
  VIRTUAL_DISK_ID_GUID,
  VIRTUAL_DISK_SIZE_GUID,
  VhdxError,
  type Violation,
  assertValid,
  decodeFileParameters,
  decodeLogicalSectorSize,
  decodeMetadataTable,
  decodeParentLocator,
  decodePhysicalSectorSize,
  decodeVirtualDiskId,
  decodeVirtualDiskSize,
  findMetadataEntry,
  validateFileParameters,
  validateLogicalSectorSize,
  validateMetadataTable,
  validateParentLocator,
  validatePhysicalSectorSize,
  validateVirtualDiskSize,
} from "@vhdx/structs";
import { type RandomAccessSource, readBytes } from "../sources/source.js";

export interface MetadataItems {
  table: MetadataTable;
  /** File offset of the metadata region. */
  regionOffset: number;
  fileParameters: FileParameters;
  virtualDiskSize: number;
  virtualDiskId: string;
  logicalSectorSize: number;
  physicalSectorSize: number;
  /** Present exactly when fileParameters.hasParent is set. */
  parentLocator: ParentLocator | null;
}

export async function readMetadata(source: RandomAccessSource, region: RegionTableEntry): Promise<MetadataItems> {
  const regionOffset = region.fileOffset;
  const tableBytes = await readBytes(source, regionOffset, METADATA_TABLE_SIZE, "metadata table");
  const table = decodeMetadataTable(tableBytes, 0, regionOffset);
  refuseOn(validateMetadataTable(table, { regionLength: region.length }), "metadata table", regionOffset);

  const item = async (guid: string, name: string, expectedLength?: number) => {
    const entry = findMetadataEntry(table, guid);
    if (entry === undefined) {
      throw new VhdxError("MISSING_METADATA", `has no ${name} item (${guid})`, {
        structure: "metadata table",
        offset: regionOffset,
      });
    }
    return readItem(source, regionOffset, entry, name, expectedLength);
  };
  const fileParameters = await decoded(
    item(FILE_PARAMETERS_GUID, "file parameters", 8),
    decodeFileParameters,
    validateFileParameters,
    "file parameters",
  );
  const logicalSectorSize = await decoded(
    item(LOGICAL_SECTOR_SIZE_GUID, "logical sector size", 4),
    decodeLogicalSectorSize,
    validateLogicalSectorSize,
    "logical sector size",
  );
  const physicalSectorSize = await decoded(
    item(PHYSICAL_SECTOR_SIZE_GUID, "physical sector size", 4),
    decodePhysicalSectorSize,
    validatePhysicalSectorSize,
    "physical sector size",
  );
  const virtualDiskSize = await decoded(
    item(VIRTUAL_DISK_SIZE_GUID, "virtual disk size", 8),
    decodeVirtualDiskSize,
    (size) => validateVirtualDiskSize(size, { logicalSectorSize }),
    "virtual disk size",
  );
  const virtualDiskId = await decoded(
    item(VIRTUAL_DISK_ID_GUID, "virtual disk id", 16),
    decodeVirtualDiskId,
    () => [],
    "virtual disk id",
  );
  const parentLocator = fileParameters.hasParent
    ? await decoded(
        item(PARENT_LOCATOR_GUID, "parent locator"),
        decodeParentLocator,
        validateParentLocator,
        "parent locator",
      )
    : null;
  return {
    table,
    regionOffset,
    fileParameters,
    virtualDiskSize,
    virtualDiskId,
    logicalSectorSize,
    physicalSectorSize,
    parentLocator,
  };
}

interface ItemBytes {
  bytes: Uint8Array;
  fileOffset: number;
}

async function readItem(
  source: RandomAccessSource,
  regionOffset: number,
  entry: MetadataTableEntry,
  name: string,
  expectedLength: number | undefined,
): Promise<ItemBytes> {
  const fileOffset = regionOffset + entry.offset;
  if (expectedLength !== undefined && entry.length < expectedLength) {
    throw new VhdxError("BAD_FIELD", `the ${name} item is ${entry.length} bytes, it needs ${expectedLength}`, {
      structure: "metadata table",
      field: "length",
      offset: fileOffset,
    });
  }
  return { bytes: await readBytes(source, fileOffset, entry.length, name), fileOffset };
}

async function decoded<T>(
  pending: Promise<ItemBytes>,
  decode: (bytes: Uint8Array, offset: number, fileOffset: number) => T,
  validate: (value: T) => Violation[],
  structure: string,
): Promise<T> {
  const { bytes, fileOffset } = await pending;
  const value = decode(bytes, 0, fileOffset);
  refuseOn(validate(value), structure, fileOffset);
  return value;
}

/** Refuses on any broken rule except reserved fields, which are the writer's business. */
function refuseOn(violations: Violation[], structure: string, offset: number): void {
  assertValid(
    violations.filter((v) => v.rule !== "RESERVED"),
    { structure, offset },
  );
}
