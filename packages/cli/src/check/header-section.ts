// Check rules of the 1 MiB header section (MS-VHDX 2.2): the two headers and
// the two region table copies, each inspected on its own so one damaged copy
// is reported (and can be repaired from the other) instead of refusing the file.
import { isNilGuid } from "@vhdx/guid";
import type { RandomAccessSource } from "@vhdx/image";
import {
  BAT_REGION_GUID,
  HEADER_1_OFFSET,
  HEADER_2_OFFSET,
  HEADER_SECTION_SIZE,
  HEADER_SIZE,
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
  decodeHeader,
  decodeRegionTable,
  validateHeader,
  validateRegionTable,
  verifyHeaderChecksum,
  verifyRegionTableChecksum,
} from "@vhdx/structs";
import { type Findings, hex } from "./findings.js";

/** The file identifier, both headers and both region tables: the first 320 KiB. */
export const HEADER_AREA_LENGTH = REGION_TABLE_2_OFFSET + REGION_TABLE_SIZE;

const HEADER_OFFSETS = [HEADER_1_OFFSET, HEADER_2_OFFSET] as const;
const REGION_TABLE_OFFSETS = [REGION_TABLE_1_OFFSET, REGION_TABLE_2_OFFSET] as const;

/** Reads `length` bytes at `offset`; what lies past the end of the source reads as zeros. */
export async function readPadded(source: RandomAccessSource, offset: number, length: number): Promise<Uint8Array> {
  const bytes = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const count = await source.read(bytes.subarray(done), offset + done);
    if (count <= 0) break;
    done += count;
  }
  return bytes;
}

export interface SlotState {
  slot: 1 | 2;
  offset: number;
  /** The decoded header when its signature and checksum are right, else null. */
  header: Header | null;
  /** Why the slot is not a valid header. */
  damage: string | null;
}

export interface HeaderState {
  header: Header;
  slot: 1 | 2;
  slots: [SlotState, SlotState];
}

export function inspectHeaderSlots(bytes: Uint8Array): [SlotState, SlotState] {
  return HEADER_OFFSETS.map((offset, i) => {
    const decoded = decodeHeader(bytes, offset, offset);
    const damage =
      decoded.signature !== "head"
        ? `signature is ${JSON.stringify(decoded.signature)}, expected "head"`
        : !verifyHeaderChecksum(bytes, offset, offset)
          ? `checksum 0x${decoded.checksum.toString(16).padStart(8, "0")} does not match the contents`
          : null;
    return { slot: (i + 1) as 1 | 2, offset, header: damage === null ? decoded : null, damage };
  }) as [SlotState, SlotState];
}

/**
 * Both header slots: which one is current, and every rule the current one
 * breaks. Returns null when no header can be chosen (nothing further can be checked).
 */
export function checkHeaders(bytes: Uint8Array, fileSize: number, findings: Findings): HeaderState | null {
  const slots = inspectHeaderSlots(bytes);
  const [first, second] = slots;
  if (first.header === null && second.header === null) {
    findings.error({
      rule: "NO_VALID_HEADER",
      code: "NO_VALID_HEADER",
      structure: "header",
      offset: HEADER_1_OFFSET,
      message: `neither header is valid (header 1: ${first.damage}; header 2: ${second.damage}); the file cannot be read`,
    });
    return null;
  }
  let current: SlotState;
  if (first.header === null || second.header === null) {
    current = first.header === null ? second : first;
    const damaged = first.header === null ? first : second;
    findings.warning({
      rule: "HEADER_DAMAGED",
      code: damaged.damage!.startsWith("signature") ? "BAD_SIGNATURE" : "CHECKSUM_MISMATCH",
      structure: "header",
      offset: damaged.offset,
      message: `header ${damaged.slot} is not valid (${damaged.damage}); header ${current.slot} is current and complete, so the file reads correctly`,
      repairable: true,
    });
  } else if (first.header.sequenceNumber === second.header.sequenceNumber && !sameBytes(bytes, HEADER_1_OFFSET, HEADER_2_OFFSET, HEADER_SIZE)) {
    findings.error({
      rule: "AMBIGUOUS_HEADER",
      code: "AMBIGUOUS_HEADER",
      structure: "header",
      offset: HEADER_1_OFFSET,
      message: `both headers are valid with sequence number ${first.header.sequenceNumber} but differ; no reader can tell which is current`,
    });
    return null;
  } else {
    current = second.header.sequenceNumber > first.header.sequenceNumber ? second : first;
  }
  const header = current.header!;
  const where = { structure: "header", offset: current.offset };
  for (const v of validateHeader(header)) {
    if (v.rule === "SIGNATURE" || v.rule === "CHECKSUM") continue;
    if (v.rule === "VERSION") {
      findings.error({ ...where, rule: "HEADER_VERSION", code: v.code, message: `current header ${current.slot}: ${v.message}` });
      return null;
    }
    if (v.rule === "LOG_VERSION") {
      const message = `current header ${current.slot}: ${v.message}`;
      if (isNilGuid(header.logGuid)) findings.warning({ ...where, rule: "LOG_VERSION", code: v.code, message });
      else findings.error({ ...where, rule: "LOG_VERSION", code: v.code, message: `${message}; its log cannot be replayed` });
      continue;
    }
    const rule = v.rule === "RESERVED" ? "HEADER_RESERVED" : "LOG_LAYOUT";
    const init = { ...where, rule, code: v.code, message: `current header ${current.slot}: ${v.field}: ${v.message}` };
    if (v.rule === "RESERVED") findings.warning(init);
    else findings.error(init);
  }
  if (header.logLength > 0 && header.logOffset + header.logLength > fileSize) {
    findings.error({
      ...where,
      rule: "LOG_PAST_EOF",
      code: "TRUNCATED",
      message: `the log ${hex(header.logOffset)}-${hex(header.logOffset + header.logLength)} ends past the end of the file (${hex(fileSize)})`,
    });
  }
  if (header.logLength === 0 && !isNilGuid(header.logGuid)) {
    findings.error({ ...where, rule: "LOG_LAYOUT", code: "LOG_CORRUPT", message: `LogGuid is ${header.logGuid} but the log has length 0` });
  }
  return { header, slot: current.slot, slots };
}

export interface Extent {
  name: string;
  offset: number;
  length: number;
}

export interface CopyState {
  copy: 1 | 2;
  offset: number;
  table: RegionTable | null;
  /** Why the copy is unusable (signature, entry count, checksum), or null. */
  damage: { code: string; message: string } | null;
  /** Rules an intact copy breaks (RESERVED and the damage rules left out). */
  problems: Violation[];
  reserved: Violation[];
}

/** Both region table copies, each decoded and validated on its own. */
export function inspectRegionTables(bytes: Uint8Array, header: Header | null): [CopyState, CopyState] {
  const log = header !== null && header.logLength > 0 ? { log: { offset: header.logOffset, length: header.logLength } } : {};
  return REGION_TABLE_OFFSETS.map((offset, i): CopyState => {
    const state: CopyState = { copy: (i + 1) as 1 | 2, offset, table: null, damage: null, problems: [], reserved: [] };
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
    else if (!verifyRegionTableChecksum(bytes, offset, offset)) state.damage = { code: "CHECKSUM_MISMATCH", message: `checksum 0x${state.table.checksum.toString(16).padStart(8, "0")} does not match the contents` };
    if (state.damage !== null) return state;
    for (const v of violations) {
      if (v.rule === "CHECKSUM" || v.rule === "FIELD_RANGE") continue;
      (v.rule === "RESERVED" ? state.reserved : state.problems).push(v);
    }
    return state;
  }) as [CopyState, CopyState];
}

/** An intact copy that breaks no rule: safe to copy over the other. */
export function isSound(copy: CopyState): boolean {
  return copy.table !== null && copy.damage === null && copy.problems.length === 0;
}

export interface RegionState {
  table: RegionTable;
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
export function checkRegionTables(bytes: Uint8Array, header: Header, fileSize: number, findings: Findings): RegionState | null {
  const [one, two] = inspectRegionTables(bytes, header);
  const label = (c: CopyState) => `copy ${c.copy}`;
  if (one.damage !== null && two.damage !== null) {
    for (const c of [one, two]) {
      findings.error({ rule: "REGION_TABLE_DAMAGED", code: c.damage!.code, structure: "region table", offset: c.offset, message: `${label(c)}: ${c.damage!.message}` });
    }
    findings.error({
      rule: "NO_VALID_REGION_TABLE",
      code: one.damage!.code,
      structure: "region table",
      offset: REGION_TABLE_1_OFFSET,
      message: "both region table copies are damaged; the BAT and metadata cannot be found",
    });
    return null;
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
      message: "both copies are intact but differ; readers use copy 1, and a reader falling back to copy 2 would see another layout",
      repairable: isSound(one),
    });
  }
  const used = one.damage === null ? one : two;
  const table = used.table!;
  for (const v of used.problems) {
    findings.error({ rule: v.rule, code: v.code, structure: "region table", offset: used.offset, message: `${label(used)}: ${v.field}: ${v.message}` });
  }
  for (const v of used.reserved) {
    findings.warning({ rule: "REGION_TABLE_RESERVED", code: v.code, structure: "region table", offset: used.offset, message: `${label(used)}: ${v.field}: ${v.message}` });
  }
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
        message: `${label(used)}: entries[${i}]: the ${name} ${hex(entry.fileOffset)}-${hex(end)} ends past the end of the file (${hex(fileSize)})`,
      });
    }
  });
  extents.sort((a, b) => a.offset - b.offset);
  const find = (guid: string, name: string) => {
    const entry = table.entries.find((e) => e.guid.toLowerCase() === guid);
    if (entry === undefined) return null; // MISSING_REGION is among the validator's rules
    if (entry.length === 0 || entry.fileOffset % MiB !== 0 || entry.fileOffset < HEADER_SECTION_SIZE) {
      if (entry.length === 0) {
        findings.error({ rule: "EMPTY_REGION", code: "BAD_FIELD", structure: "region table", offset: used.offset, message: `${label(used)}: the ${name} region has length 0` });
      }
      return null;
    }
    return entry;
  };
  return { table, copy: used.copy, bat: find(BAT_REGION_GUID, "BAT"), metadata: find(METADATA_REGION_GUID, "metadata"), extents };
}

export function regionName(guid: string): string {
  const id = guid.toLowerCase();
  if (id === BAT_REGION_GUID) return "BAT region";
  if (id === METADATA_REGION_GUID) return "metadata region";
  return `region ${id}`;
}

export function sameBytes(bytes: Uint8Array, a: number, b: number, length: number): boolean {
  for (let i = 0; i < length; i++) if (bytes[a + i] !== bytes[b + i]) return false;
  return true;
}
