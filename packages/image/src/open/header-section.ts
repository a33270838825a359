// Reading the 1 MiB header section (MS-VHDX 2.2): the file identifier, the
// current header of the two, and the region table (copy 1, or copy 2 when
// copy 1 is damaged). All five structures come from one 320 KiB read.
import {
  type FileIdentifier,
  HEADER_1_OFFSET,
  HEADER_2_OFFSET,
  HEADER_SIZE,
  type Header,
  REGION_TABLE_1_OFFSET,
  REGION_TABLE_2_OFFSET,
  REGION_TABLE_SIZE,
  type RegionTable,
  VhdxError,
  type VhdxErrorCode,
  assertValid,
  decodeFileIdentifier,
  decodeHeader,
  decodeRegionTable,
  validateFileIdentifier,
  validateHeader,
  validateRegionTable,
  verifyHeaderChecksum,
  verifyRegionTableChecksum,
} from "@vhdx/structs";
import { isNilGuid } from "@vhdx/guid";
import { type RandomAccessSource, readBytes } from "../sources/source.js";
import { notVhdxError, probeFormat } from "./probe-format.js";

const FIRST_READ_LENGTH = REGION_TABLE_2_OFFSET + REGION_TABLE_SIZE;

export interface HeaderSection {
  fileIdentifier: FileIdentifier;
  /** The current header: the valid one with the larger sequence number. */
  header: Header;
  /** Which slot (1 or 2) holds the current header. */
  headerSlot: 1 | 2;
  /** Both slots as decoded; null where the slot is not a valid header. */
  headers: [Header | null, Header | null];
  regionTable: RegionTable;
  /** Which copy (1 or 2) of the region table is in use. */
  regionTableCopy: 1 | 2;
}

export type Headers = Omit<HeaderSection, "regionTable" | "regionTableCopy"> & {
  /** The first 320 KiB of the file, which hold all five structures. */
  bytes: Uint8Array;
};

/** The file identifier and the current header, checked. The region table may still need the log. */
export async function readHeaders(source: RandomAccessSource): Promise<Headers> {
  const bytes = await readBytes(source, 0, FIRST_READ_LENGTH, "header section").catch(async (error: unknown) => {
    if (VhdxError.isInstance(error) && error.code === "TRUNCATED") await refuseOtherFormats(source);
    throw error;
  });
  const fileIdentifier = decodeFileIdentifier(bytes, 0, 0);
  const identifierViolations = validateFileIdentifier(fileIdentifier);
  if (identifierViolations.length > 0) await refuseOtherFormats(source);
  assertValid(identifierViolations, { structure: "file identifier", offset: 0 });
  const headers: [Header | null, Header | null] = [
    validHeaderAt(bytes, HEADER_1_OFFSET),
    validHeaderAt(bytes, HEADER_2_OFFSET),
  ];
  const { header, slot } = currentHeader(headers, bytes);
  checkHeaderVersions(header, slot === 1 ? HEADER_1_OFFSET : HEADER_2_OFFSET);
  return { bytes, fileIdentifier, header, headerSlot: slot, headers };
}

/**
 * Only called once the file failed to read as VHDX, so a good open costs no
 * extra read: NOT_VHDX or UNSUPPORTED_FORMAT when the file is not a VHDX at
 * all; nothing when it is one with a damaged identifier.
 */
async function refuseOtherFormats(source: RandomAccessSource): Promise<void> {
  const error = notVhdxError(await probeFormat(source), source.name);
  if (error !== null) throw error;
}

/** The header at `offset` when its signature and checksum are right, else null. */
function validHeaderAt(bytes: Uint8Array, offset: number): Header | null {
  const header = decodeHeader(bytes, offset, offset);
  const signatureOk = !validateHeader(header).some((v) => v.rule === "SIGNATURE");
  return signatureOk && verifyHeaderChecksum(bytes, offset, offset) ? header : null;
}

function currentHeader(headers: [Header | null, Header | null], bytes: Uint8Array): { header: Header; slot: 1 | 2 } {
  const [first, second] = headers;
  if (first === null && second === null) {
    throw new VhdxError("NO_VALID_HEADER", "neither header has a valid signature and checksum; the file is corrupt", {
      structure: "header",
      offset: HEADER_1_OFFSET,
    });
  }
  if (first === null) return { header: second!, slot: 2 };
  if (second === null) return { header: first, slot: 1 };
  if (first.sequenceNumber > second.sequenceNumber) return { header: first, slot: 1 };
  if (second.sequenceNumber > first.sequenceNumber) return { header: second, slot: 2 };
  if (sameBytes(bytes, HEADER_1_OFFSET, HEADER_2_OFFSET, HEADER_SIZE)) return { header: first, slot: 1 };
  throw new VhdxError(
    "AMBIGUOUS_HEADER",
    `both headers are valid with sequence number ${first.sequenceNumber} but differ; cannot tell which is current`,
    { structure: "header", offset: HEADER_1_OFFSET },
  );
}

function checkHeaderVersions(header: Header, offset: number): void {
  if (header.version !== 1) {
    throw new VhdxError("BAD_VERSION", `version is ${header.version}, only version 1 is defined`, {
      structure: "header",
      field: "version",
      offset,
    });
  }
  if (header.logVersion !== 0 && !isNilGuid(header.logGuid)) {
    throw new VhdxError("BAD_VERSION", `log version is ${header.logVersion}, only version 0 can be replayed`, {
      structure: "header",
      field: "logVersion",
      offset,
    });
  }
}

/**
 * Copy 1 when its signature, checksum and entry count are sound, else copy 2.
 * The chosen table's other rules (unique GUIDs, required regions) are checked
 * by the caller, so a table that is intact but wrong is refused, not skipped.
 */
export function usableRegionTable(bytes: Uint8Array): { table: RegionTable; copy: 1 | 2 } {
  const failures: Damage[] = [];
  for (const [copy, offset] of [
    [1, REGION_TABLE_1_OFFSET],
    [2, REGION_TABLE_2_OFFSET],
  ] as const) {
    const damage = regionTableDamage(bytes, offset);
    if (damage === null) return { table: decodeRegionTable(bytes, offset, offset), copy };
    failures.push({ ...damage, message: `copy ${copy} @0x${offset.toString(16)}: ${damage.message}` });
  }
  throw new VhdxError(failures[0]!.code, `both copies are damaged (${failures.map((f) => f.message).join("; ")})`, {
    structure: "region table",
    offset: REGION_TABLE_1_OFFSET,
  });
}

interface Damage {
  code: VhdxErrorCode;
  message: string;
}

function regionTableDamage(bytes: Uint8Array, offset: number): Damage | null {
  let table: RegionTable;
  try {
    table = decodeRegionTable(bytes, offset, offset);
  } catch (error) {
    if (VhdxError.isInstance(error)) return { code: error.code, message: error.detail };
    throw error;
  }
  const broken = validateRegionTable(table).find((v) => v.rule === "SIGNATURE" || v.rule === "ENTRY_COUNT");
  if (broken !== undefined) return { code: broken.code, message: broken.message };
  if (!verifyRegionTableChecksum(bytes, offset, offset))
    return { code: "CHECKSUM_MISMATCH", message: "checksum does not match" };
  return null;
}

function sameBytes(bytes: Uint8Array, a: number, b: number, length: number): boolean {
  for (let i = 0; i < length; i++) if (bytes[a + i] !== bytes[b + i]) return false;
  return true;
}
