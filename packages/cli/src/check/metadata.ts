// Check rules of the metadata region (MS-VHDX 2.6): the table, the six system
// items (presence, length, flags, values), the parent locator, and the BAT
// geometry they give.
import { type BatGeometry, computeGeometry } from "@vhdx/bat";
import type { RandomAccessSource } from "@vhdx/image";
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
import { type Findings, hex } from "./findings.js";
import { readPadded } from "./header-section.js";

export interface MetadataState {
  fileParameters: FileParameters;
  virtualSize: number;
  logicalSectorSize: number;
  physicalSectorSize: number | null;
  virtualDiskId: string | null;
  parentLocator: ParentLocator | null;
  geometry: BatGeometry;
}

interface ItemRule<T> {
  guid: string;
  name: string;
  length: number | null;
  isVirtualDisk: boolean;
  decode(bytes: Uint8Array, offset: number, fileOffset: number): T;
  validate(value: T): Violation[];
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
  const regionOffset = region.fileOffset;
  if (regionOffset + region.length > fileSize) return null; // REGION_PAST_EOF is reported already
  const tableBytes = await readPadded(source, regionOffset, METADATA_TABLE_SIZE);
  let table: MetadataTable;
  try {
    table = decodeMetadataTable(tableBytes, 0, regionOffset);
  } catch (error) {
    if (!VhdxError.isInstance(error)) throw error;
    findings.error({ rule: "METADATA_TABLE", code: error.code, structure: "metadata table", offset: regionOffset, message: error.detail });
    return null;
  }
  const tableViolations = validateMetadataTable(table, { regionLength: region.length });
  findings.violations(tableViolations, "metadata table", regionOffset);
  if (tableViolations.some((v) => v.rule === "SIGNATURE")) return null;

  const read = async <T>(rule: ItemRule<T>): Promise<T | null> => {
    const entry = findMetadataEntry(table, rule.guid);
    if (entry === undefined) return null; // MISSING_ITEM is among the table's rules (parent locator: see below)
    checkFlags(entry, rule, regionOffset, findings);
    const fileOffset = regionOffset + entry.offset;
    const where = { structure: rule.name, offset: fileOffset };
    if (rule.length !== null && entry.length < rule.length) {
      findings.error({ ...where, rule: "ITEM_LENGTH", message: `the item is ${entry.length} bytes, it needs ${rule.length}` });
      return null;
    }
    if (entry.length > MAX_METADATA_ITEM_LENGTH || entry.offset + entry.length > region.length || (entry.length > 0 && entry.offset < METADATA_TABLE_SIZE)) {
      return null; // the table's rules (ITEM_LENGTH, OUTSIDE_REGION, ITEM_OFFSET) report it
    }
    const bytes = await readPadded(source, fileOffset, entry.length);
    try {
      const value = rule.decode(bytes, 0, fileOffset);
      const violations = rule.validate(value);
      findings.violations(violations, rule.name, fileOffset);
      return violations.some((v) => v.rule !== "RESERVED") ? null : value;
    } catch (error) {
      if (!VhdxError.isInstance(error)) throw error;
      findings.error({ ...where, rule: "ITEM_DECODE", code: error.code, message: error.detail });
      return null;
    }
  };

  const fileParameters = await read<FileParameters>({
    guid: FILE_PARAMETERS_GUID,
    name: "file parameters",
    length: 8,
    isVirtualDisk: false,
    decode: decodeFileParameters,
    validate: validateFileParameters,
  });
  const logicalSectorSize = await read<number>({
    guid: LOGICAL_SECTOR_SIZE_GUID,
    name: "logical sector size",
    length: 4,
    isVirtualDisk: true,
    decode: decodeLogicalSectorSize,
    validate: validateLogicalSectorSize,
  });
  const physicalSectorSize = await read<number>({
    guid: PHYSICAL_SECTOR_SIZE_GUID,
    name: "physical sector size",
    length: 4,
    isVirtualDisk: true,
    decode: decodePhysicalSectorSize,
    validate: validatePhysicalSectorSize,
  });
  const sizeRule: ItemRule<number> = {
    guid: VIRTUAL_DISK_SIZE_GUID,
    name: "virtual disk size",
    length: 8,
    isVirtualDisk: true,
    decode: decodeVirtualDiskSize,
    validate: (size) => validateVirtualDiskSize(size, logicalSectorSize === null ? {} : { logicalSectorSize }),
  };
  const virtualSize = await read(sizeRule);
  const virtualDiskId = await read<string>({
    guid: VIRTUAL_DISK_ID_GUID,
    name: "virtual disk id",
    length: 16,
    isVirtualDisk: true,
    decode: decodeVirtualDiskId,
    validate: () => [],
  });

  let parentLocator: ParentLocator | null = null;
  const locatorEntry = findMetadataEntry(table, PARENT_LOCATOR_GUID);
  if (fileParameters?.hasParent) {
    if (locatorEntry === undefined) {
      findings.error({
        rule: "MISSING_ITEM",
        code: "MISSING_METADATA",
        structure: "metadata table",
        offset: regionOffset,
        message: `HasParent is set but there is no parent locator item (${PARENT_LOCATOR_GUID})`,
      });
    } else {
      parentLocator = await read<ParentLocator>({
        guid: PARENT_LOCATOR_GUID,
        name: "parent locator",
        length: null,
        isVirtualDisk: false,
        decode: decodeParentLocator,
        validate: validateParentLocator,
      });
    }
  } else if (fileParameters !== null && locatorEntry !== undefined) {
    findings.warning({
      rule: "UNUSED_PARENT_LOCATOR",
      code: "BAD_FIELD",
      structure: "metadata table",
      offset: regionOffset,
      message: "a parent locator item is present but HasParent is not set; the disk is read without a parent",
    });
  }

  if (fileParameters === null || logicalSectorSize === null || virtualSize === null) return null;
  if (virtualSize === 0) {
    findings.error({ rule: "DISK_SIZE", structure: "virtual disk size", offset: regionOffset, message: "the virtual disk size is 0" });
    return null;
  }
  let geometry: BatGeometry;
  try {
    geometry = computeGeometry({
      virtualSize,
      blockSize: fileParameters.blockSize,
      logicalSectorSize,
      hasParent: fileParameters.hasParent,
    });
  } catch (error) {
    if (!VhdxError.isInstance(error)) throw error;
    findings.error({ rule: "GEOMETRY", code: error.code, structure: error.structure ?? "metadata", offset: regionOffset, message: error.detail });
    return null;
  }
  return { fileParameters, virtualSize, logicalSectorSize, physicalSectorSize, virtualDiskId, parentLocator, geometry };
}

/** System items are required; the four that describe the virtual disk are IsVirtualDisk. */
function checkFlags(entry: MetadataTableEntry, rule: { name: string; isVirtualDisk: boolean }, regionOffset: number, findings: Findings): void {
  const wrong: string[] = [];
  if (!entry.isRequired) wrong.push("IsRequired is not set");
  if (entry.isVirtualDisk !== rule.isVirtualDisk) wrong.push(`IsVirtualDisk is ${entry.isVirtualDisk ? "set" : "not set"}`);
  if (wrong.length === 0) return;
  findings.warning({
    rule: "METADATA_FLAGS",
    structure: "metadata table",
    offset: regionOffset,
    message: `the ${rule.name} item (at ${hex(regionOffset + entry.offset)}): ${wrong.join(", ")}`,
  });
}
