// Check rules of the metadata region (MS-VHDX 2.6): the table, the system
// items (presence, length, flags, values), the parent locator, and the BAT
// geometry they give.
import { type BatGeometry, computeGeometry } from "@vhdx/bat";
import {
  FILE_PARAMETERS_GUID,
  type FileParameters,
  LOGICAL_SECTOR_SIZE_GUID,
  MAX_METADATA_ITEM_LENGTH,
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
import type { RandomAccessSource } from "../sources/source.js";
import { readPadded } from "./bytes.js";
import { type Findings, hex } from "./findings.js";

export interface MetadataState {
  fileParameters: FileParameters;
  virtualSize: number;
  logicalSectorSize: number;
  geometry: BatGeometry;
}

interface ItemRule<T> {
  guid: string;
  name: string;
  /** The item's length, or null when it varies (the parent locator). */
  length: number | null;
  isVirtualDisk: boolean;
  decode(bytes: Uint8Array, offset: number, fileOffset: number): T;
  validate(value: T): Violation[];
}

/** Where the items are read from, and where what is wrong with them goes. */
interface ItemReader {
  source: RandomAccessSource;
  region: RegionTableEntry;
  table: MetadataTable;
  findings: Findings;
}

const FILE_PARAMETERS: ItemRule<FileParameters> = {
  guid: FILE_PARAMETERS_GUID,
  name: "file parameters",
  length: 8,
  isVirtualDisk: false,
  decode: decodeFileParameters,
  validate: validateFileParameters,
};
const LOGICAL_SECTOR_SIZE: ItemRule<number> = {
  guid: LOGICAL_SECTOR_SIZE_GUID,
  name: "logical sector size",
  length: 4,
  isVirtualDisk: true,
  decode: decodeLogicalSectorSize,
  validate: validateLogicalSectorSize,
};
const PHYSICAL_SECTOR_SIZE: ItemRule<number> = {
  guid: PHYSICAL_SECTOR_SIZE_GUID,
  name: "physical sector size",
  length: 4,
  isVirtualDisk: true,
  decode: decodePhysicalSectorSize,
  validate: validatePhysicalSectorSize,
};
const VIRTUAL_DISK_ID: ItemRule<string> = {
  guid: VIRTUAL_DISK_ID_GUID,
  name: "virtual disk id",
  length: 16,
  isVirtualDisk: true,
  decode: decodeVirtualDiskId,
  validate: () => [],
};
const PARENT_LOCATOR: ItemRule<ParentLocator> = {
  guid: PARENT_LOCATOR_GUID,
  name: "parent locator",
  length: null,
  isVirtualDisk: false,
  decode: decodeParentLocator,
  validate: validateParentLocator,
};

function virtualDiskSizeRule(logicalSectorSize: number | null): ItemRule<number> {
  return {
    guid: VIRTUAL_DISK_SIZE_GUID,
    name: "virtual disk size",
    length: 8,
    isVirtualDisk: true,
    decode: decodeVirtualDiskSize,
    validate: (size) => validateVirtualDiskSize(size, logicalSectorSize === null ? {} : { logicalSectorSize }),
  };
}

/**
 * Returns what the BAT check needs, or null when the metadata does not say
 * enough to interpret the BAT (the reasons are in `findings`).
 */
export async function checkMetadata(
  source: RandomAccessSource,
  region: RegionTableEntry,
  fileSize: number,
  findings: Findings,
): Promise<MetadataState | null> {
  if (region.fileOffset + region.length > fileSize) return null; // REGION_PAST_EOF is reported already
  const table = await readMetadataTable(source, region, findings);
  if (table === null) return null;
  const reader: ItemReader = { source, region, table, findings };
  const fileParameters = await readItem(reader, FILE_PARAMETERS);
  const logicalSectorSize = await readItem(reader, LOGICAL_SECTOR_SIZE);
  await readItem(reader, PHYSICAL_SECTOR_SIZE);
  const virtualSize = await readItem(reader, virtualDiskSizeRule(logicalSectorSize));
  await readItem(reader, VIRTUAL_DISK_ID);
  await checkParentLocator(reader, fileParameters);
  if (fileParameters === null || logicalSectorSize === null || virtualSize === null) return null;
  const geometry = checkGeometry(region, fileParameters, logicalSectorSize, virtualSize, findings);
  return geometry === null ? null : { fileParameters, virtualSize, logicalSectorSize, geometry };
}

async function readMetadataTable(
  source: RandomAccessSource,
  region: RegionTableEntry,
  findings: Findings,
): Promise<MetadataTable | null> {
  const regionOffset = region.fileOffset;
  const tableBytes = await readPadded(source, regionOffset, METADATA_TABLE_SIZE);
  let table: MetadataTable;
  try {
    table = decodeMetadataTable(tableBytes, 0, regionOffset);
  } catch (error) {
    if (!VhdxError.isInstance(error)) throw error;
    findings.error({
      rule: "METADATA_TABLE",
      code: error.code,
      structure: "metadata table",
      offset: regionOffset,
      message: error.detail,
    });
    return null;
  }
  const violations = validateMetadataTable(table, { regionLength: region.length });
  findings.violations(violations, "metadata table", regionOffset);
  return violations.some((v) => v.rule === "SIGNATURE") ? null : table;
}

/** The item's value when it is present, readable and breaks no rule but RESERVED; else null. */
async function readItem<T>(reader: ItemReader, rule: ItemRule<T>): Promise<T | null> {
  const { region, findings } = reader;
  const entry = findMetadataEntry(reader.table, rule.guid);
  if (entry === undefined) return null; // MISSING_ITEM is among the table's rules (parent locator: see checkParentLocator)
  checkFlags(entry, rule, region.fileOffset, findings);
  const fileOffset = region.fileOffset + entry.offset;
  if (rule.length !== null && entry.length < rule.length) {
    findings.error({
      structure: rule.name,
      offset: fileOffset,
      rule: "ITEM_LENGTH",
      message: `the item is ${entry.length} bytes, it needs ${rule.length}`,
    });
    return null;
  }
  if (
    entry.length > MAX_METADATA_ITEM_LENGTH ||
    entry.offset + entry.length > region.length ||
    (entry.length > 0 && entry.offset < METADATA_TABLE_SIZE)
  ) {
    return null; // the table's rules (ITEM_LENGTH, OUTSIDE_REGION, ITEM_OFFSET) report it
  }
  const bytes = await readPadded(reader.source, fileOffset, entry.length);
  try {
    const value = rule.decode(bytes, 0, fileOffset);
    const violations = rule.validate(value);
    findings.violations(violations, rule.name, fileOffset);
    return violations.some((v) => v.rule !== "RESERVED") ? null : value;
  } catch (error) {
    if (!VhdxError.isInstance(error)) throw error;
    findings.error({
      structure: rule.name,
      offset: fileOffset,
      rule: "ITEM_DECODE",
      code: error.code,
      message: error.detail,
    });
    return null;
  }
}

/** A differencing disk needs its parent locator; any other disk should have none. */
async function checkParentLocator(reader: ItemReader, fileParameters: FileParameters | null): Promise<void> {
  const { region, findings } = reader;
  const present = findMetadataEntry(reader.table, PARENT_LOCATOR_GUID) !== undefined;
  if (fileParameters?.hasParent) {
    if (present) {
      await readItem(reader, PARENT_LOCATOR);
      return;
    }
    findings.error({
      rule: "MISSING_ITEM",
      code: "MISSING_METADATA",
      structure: "metadata table",
      offset: region.fileOffset,
      message: `HasParent is set but there is no parent locator item (${PARENT_LOCATOR_GUID})`,
    });
  } else if (fileParameters !== null && present) {
    findings.warning({
      rule: "UNUSED_PARENT_LOCATOR",
      code: "BAD_FIELD",
      structure: "metadata table",
      offset: region.fileOffset,
      message: "a parent locator item is present but HasParent is not set; the disk is read without a parent",
    });
  }
}

function checkGeometry(
  region: RegionTableEntry,
  fileParameters: FileParameters,
  logicalSectorSize: number,
  virtualSize: number,
  findings: Findings,
): BatGeometry | null {
  if (virtualSize === 0) {
    findings.error({
      rule: "DISK_SIZE",
      structure: "virtual disk size",
      offset: region.fileOffset,
      message: "the virtual disk size is 0",
    });
    return null;
  }
  try {
    return computeGeometry({
      virtualSize,
      blockSize: fileParameters.blockSize,
      logicalSectorSize,
      hasParent: fileParameters.hasParent,
    });
  } catch (error) {
    if (!VhdxError.isInstance(error)) throw error;
    findings.error({
      rule: "GEOMETRY",
      code: error.code,
      structure: error.structure ?? "metadata",
      offset: region.fileOffset,
      message: error.detail,
    });
    return null;
  }
}

/** System items are required; the four that describe the virtual disk are IsVirtualDisk. */
function checkFlags(
  entry: MetadataTableEntry,
  rule: { name: string; isVirtualDisk: boolean },
  regionOffset: number,
  findings: Findings,
): void {
  const wrong: string[] = [];
  if (!entry.isRequired) wrong.push("IsRequired is not set");
  if (entry.isVirtualDisk !== rule.isVirtualDisk)
    wrong.push(`IsVirtualDisk is ${entry.isVirtualDisk ? "set" : "not set"}`);
  if (wrong.length === 0) return;
  findings.warning({
    rule: "METADATA_FLAGS",
    structure: "metadata table",
    offset: regionOffset,
    message: `the ${rule.name} item (at ${hex(regionOffset + entry.offset)}): ${wrong.join(", ")}`,
  });
}
