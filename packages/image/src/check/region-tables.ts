// Check rules of the two region table copies (MS-VHDX 2.2.3): each copy is
// decoded and validated on its own, so one damaged copy is reported (and can
// be restored from the other) instead of refusing the file.
import {
  BAT_REGION_GUID,
  HEADER_SECTION_SIZE,
  type Header,
  METADATA_REGION_GUID,
  MiB,
  REGION_TABLE_1_OFFSET,
  REGION_TABLE_2_OFFSET,
  REGION_TABLE_SIZE,
  type RegionTable,
  type RegionTableEntry,
  VhdxError,
  type Violation,
  decodeRegionTable,
  validateRegionTable,
  verifyRegionTableChecksum,
} from "@vhdx/structs";
import type { Extent } from "../open/layout.js";
import { sameBytes } from "./bytes.js";
import { type Findings, hex } from "./findings.js";
import { type CheckCode, structureRule } from "./rules.js";

const REGION_TABLE_OFFSETS = [REGION_TABLE_1_OFFSET, REGION_TABLE_2_OFFSET] as const;

export interface CopyState {
  copy: 1 | 2;
  offset: number;
  table: RegionTable | null;
  /** Why the copy is unusable (signature, entry count, checksum), or null. */
  damage: { code: CheckCode; message: string } | null;
  /** Rules an intact copy breaks (RESERVED and the damage rules left out). */
  problems: Violation[];
  reserved: Violation[];
}

export type Copies = [CopyState, CopyState];

/** Both region table copies, each decoded and validated on its own. */
export function inspectRegionTables(bytes: Uint8Array, header: Header | null): Copies {
  const log =
    header !== null && header.logLength > 0 ? { log: { offset: header.logOffset, length: header.logLength } } : {};
  return REGION_TABLE_OFFSETS.map((offset, i) => inspectCopy(bytes, (i + 1) as 1 | 2, offset, log)) as Copies;
}

function inspectCopy(
  bytes: Uint8Array,
  copy: 1 | 2,
  offset: number,
  log: Parameters<typeof validateRegionTable>[1],
): CopyState {
  const state: CopyState = { copy, offset, table: null, damage: null, problems: [], reserved: [] };
  try {
    state.table = decodeRegionTable(bytes, offset, offset);
  } catch (error) {
    if (!VhdxError.isInstance(error)) throw error;
    state.damage = { code: error.code, message: error.detail };
    return state;
  }
  const violations = validateRegionTable(state.table, log);
  const broken = violations.find((v) => v.rule === "SIGNATURE" || v.rule === "ENTRY_COUNT");
  if (broken !== undefined) state.damage = { code: broken.code, message: broken.message };
  else if (!verifyRegionTableChecksum(bytes, offset, offset)) {
    state.damage = {
      code: "CHECKSUM_MISMATCH",
      message: `checksum 0x${state.table.checksum.toString(16).padStart(8, "0")} does not match the contents`,
    };
  }
  if (state.damage !== null) return state;
  for (const v of violations) {
    if (v.rule === "CHECKSUM" || v.rule === "FIELD_RANGE") continue;
    (v.rule === "RESERVED" ? state.reserved : state.problems).push(v);
  }
  return state;
}

/** An intact copy that breaks no rule: safe to copy over the other. */
export function isSound(copy: CopyState): boolean {
  return copy.table !== null && copy.damage === null && copy.problems.length === 0;
}

export interface RegionState {
  copy: 1 | 2;
  bat: RegionTableEntry | null;
  metadata: RegionTableEntry | null;
  /** Header section, log and every region, in file order. */
  extents: Extent[];
}

/**
 * Region table rules: which copy is used, damaged or differing copies, the
 * rules of the copy in use, and regions past the end of the file. Null when
 * neither copy is usable.
 */
export function checkRegionTables(
  bytes: Uint8Array,
  header: Header,
  fileSize: number,
  findings: Findings,
): RegionState | null {
  const copies = inspectRegionTables(bytes, header);
  if (!reportDamage(bytes, copies, findings)) return null;
  const used = copies[0].damage === null ? copies[0] : copies[1];
  const table = used.table!;
  for (const v of used.problems) {
    findings.error({
      rule: structureRule(v.rule),
      code: v.code,
      structure: "region table",
      offset: used.offset,
      message: `copy ${used.copy}: ${v.field}: ${v.message}`,
    });
  }
  for (const v of used.reserved) {
    findings.warning({
      rule: "REGION_TABLE_RESERVED",
      code: v.code,
      structure: "region table",
      offset: used.offset,
      message: `copy ${used.copy}: ${v.field}: ${v.message}`,
    });
  }
  const extents = regionExtents(table, header, used, fileSize, findings);
  const region = (guid: string, name: string) => usableRegion(table, guid, name, used, findings);
  return {
    copy: used.copy,
    bat: region(BAT_REGION_GUID, "BAT"),
    metadata: region(METADATA_REGION_GUID, "metadata"),
    extents,
  };
}

/** Reports damaged or differing copies; false when neither copy is usable. */
function reportDamage(bytes: Uint8Array, [one, two]: Copies, findings: Findings): boolean {
  if (one.damage !== null && two.damage !== null) {
    for (const c of [one, two]) {
      findings.error({
        rule: "REGION_TABLE_DAMAGED",
        code: c.damage!.code,
        structure: "region table",
        offset: c.offset,
        message: `copy ${c.copy}: ${c.damage!.message}`,
      });
    }
    findings.error({
      rule: "NO_VALID_REGION_TABLE",
      code: one.damage.code,
      structure: "region table",
      offset: REGION_TABLE_1_OFFSET,
      message: "both region table copies are damaged; the BAT and metadata cannot be found",
    });
    return false;
  }
  if (one.damage !== null) {
    findings.error({
      rule: "REGION_TABLE_DAMAGED",
      code: one.damage.code,
      structure: "region table",
      offset: one.offset,
      message: `copy 1: ${one.damage.message}; copy 2 is intact and used instead (readers without the fallback, such as QEMU, refuse the file)`,
      repairable: isSound(two),
    });
  } else if (two.damage !== null) {
    findings.warning({
      rule: "REGION_TABLE_DAMAGED",
      code: two.damage.code,
      structure: "region table",
      offset: two.offset,
      message: `copy 2: ${two.damage.message}; copy 1 is intact and is the one readers use`,
      repairable: isSound(one),
    });
  } else if (!sameBytes(bytes, REGION_TABLE_1_OFFSET, REGION_TABLE_2_OFFSET, REGION_TABLE_SIZE)) {
    findings.error({
      rule: "REGION_TABLES_DIFFER",
      code: "BAD_FIELD",
      structure: "region table",
      offset: REGION_TABLE_2_OFFSET,
      message:
        "both copies are intact but differ; readers use copy 1, and a reader falling back to copy 2 would see another layout",
      repairable: isSound(one),
    });
  }
  return true;
}

/** The header section, the log and every region, sorted; regions past the end of the file are reported. */
function regionExtents(
  table: RegionTable,
  header: Header,
  used: CopyState,
  fileSize: number,
  findings: Findings,
): Extent[] {
  const extents: Extent[] = [{ name: "header section", offset: 0, length: HEADER_SECTION_SIZE }];
  if (header.logLength > 0) extents.push({ name: "log", offset: header.logOffset, length: header.logLength });
  table.entries.forEach((entry, i) => {
    const name = regionName(entry.guid);
    extents.push({ name, offset: entry.fileOffset, length: entry.length });
    const end = entry.fileOffset + entry.length;
    if (end > fileSize) {
      findings.error({
        rule: "REGION_PAST_EOF",
        code: "TRUNCATED",
        structure: "region table",
        offset: used.offset,
        message: `copy ${used.copy}: entries[${i}]: the ${name} ${hex(entry.fileOffset)}-${hex(end)} ends past the end of the file (${hex(fileSize)})`,
      });
    }
  });
  return extents.sort((a, b) => a.offset - b.offset);
}

/** The region's entry when it can be read from: present, not empty, aligned, past the header section. */
function usableRegion(
  table: RegionTable,
  guid: string,
  name: string,
  used: CopyState,
  findings: Findings,
): RegionTableEntry | null {
  const entry = table.entries.find((e) => e.guid.toLowerCase() === guid);
  if (entry === undefined) return null; // MISSING_REGION is among the validator's rules
  if (entry.length === 0) {
    findings.error({
      rule: "EMPTY_REGION",
      code: "BAD_FIELD",
      structure: "region table",
      offset: used.offset,
      message: `copy ${used.copy}: the ${name} region has length 0`,
    });
    return null;
  }
  if (entry.fileOffset % MiB !== 0 || entry.fileOffset < HEADER_SECTION_SIZE) return null; // the validator's ALIGNMENT and HEADER_SECTION
  return entry;
}

export function regionName(guid: string): string {
  const id = guid.toLowerCase();
  if (id === BAT_REGION_GUID) return "BAT region";
  if (id === METADATA_REGION_GUID) return "metadata region";
  return `region ${id}`;
}
