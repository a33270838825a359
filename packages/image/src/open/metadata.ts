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

/**
 * Windows and QEMU put the items just after the table (some writers 4 KiB
 * apart), so reading 32 KiB past it saves a round trip per item on a remote
 * source.
 */
const FIRST_READ_LENGTH = METADATA_TABLE_SIZE + 32 * 1024;

export async function readMetadata(source: RandomAccessSource, region: RegionTableEntry): Promise<MetadataItems> {
  const regionOffset = region.fileOffset;
  const firstLength = Math.max(METADATA_TABLE_SIZE, Math.min(region.length, FIRST_READ_LENGTH));
  const firstBytes = await readFirstBytes(source, regionOffset, firstLength);
  const table = decodeMetadataTable(firstBytes, 0, regionOffset);
  refuseOn(validateMetadataTable(table, { regionLength: region.length }), "metadata table", regionOffset);

  const item = async (guid: string, name: string, expectedLength?: number) => {
    const entry = findMetadataEntry(table, guid);
    if (entry === undefined) {
      throw new VhdxError("MISSING_METADATA", `has no ${name} item (${guid})`, {
        structure: "metadata table",
        offset: regionOffset,
      });
    }
    return readItem(source, { regionOffset, firstBytes }, entry, name, expectedLength);
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

/** The table, and what follows it when the source holds it. */
async function readFirstBytes(source: RandomAccessSource, regionOffset: number, length: number): Promise<Uint8Array> {
  const buffer = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const count = await source.read(buffer.subarray(done), regionOffset + done);
    if (count <= 0) break;
    done += count;
  }
  if (done >= METADATA_TABLE_SIZE) return buffer.subarray(0, done);
  return readBytes(source, regionOffset, METADATA_TABLE_SIZE, "metadata table");
}

interface RegionStart {
  regionOffset: number;
  /** The region's first bytes, already read. */
  firstBytes: Uint8Array;
}

async function readItem(
  source: RandomAccessSource,
  { regionOffset, firstBytes }: RegionStart,
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
  const end = entry.offset + entry.length;
  if (end <= firstBytes.length) return { bytes: firstBytes.subarray(entry.offset, end), fileOffset };
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
