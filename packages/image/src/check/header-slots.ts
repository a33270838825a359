// Check rules of the two headers (MS-VHDX 2.2.2): each slot inspected on its
// own, so one damaged slot is reported (and can be repaired from the other)
// instead of refusing the file.
import { isNilGuid } from "@vhdx/guid";
import {
  HEADER_1_OFFSET,
  HEADER_2_OFFSET,
  HEADER_SIZE,
  type Header,
  decodeHeader,
  validateHeader,
  verifyHeaderChecksum,
} from "@vhdx/structs";
import { sameBytes } from "./bytes.js";
import { type Findings, hex } from "./findings.js";

const HEADER_OFFSETS = [HEADER_1_OFFSET, HEADER_2_OFFSET] as const;

interface SlotState {
  slot: 1 | 2;
  offset: number;
  /** The decoded header when its signature and checksum are right, else null. */
  header: Header | null;
  /** Why the slot is not a valid header. */
  damage: string | null;
}

export type Slots = [SlotState, SlotState];

export interface HeaderState {
  header: Header;
  slot: 1 | 2;
}

export function inspectHeaderSlots(bytes: Uint8Array): Slots {
  return HEADER_OFFSETS.map((offset, i) => {
    const decoded = decodeHeader(bytes, offset, offset);
    const damage =
      decoded.signature !== "head"
        ? `signature is ${JSON.stringify(decoded.signature)}, expected "head"`
        : !verifyHeaderChecksum(bytes, offset, offset)
          ? `checksum 0x${decoded.checksum.toString(16).padStart(8, "0")} does not match the contents`
          : null;
    return { slot: (i + 1) as 1 | 2, offset, header: damage === null ? decoded : null, damage };
  }) as Slots;
}

/** The valid header with the higher sequence number, or null when neither is valid. */
export function currentHeader([a, b]: Slots): Header | null {
  if (a.header === null) return b.header;
  if (b.header === null) return a.header;
  return b.header.sequenceNumber > a.header.sequenceNumber ? b.header : a.header;
}

/**
 * Both header slots: which one is current, and every rule the current one
 * breaks. Returns null when no header can be chosen (nothing further can be checked).
 */
export function checkHeaders(bytes: Uint8Array, fileSize: number, findings: Findings): HeaderState | null {
  const current = chooseSlot(bytes, inspectHeaderSlots(bytes), findings);
  if (current === null) return null;
  const header = current.header!;
  if (!checkHeaderRules(current, findings)) return null;
  checkLogPlacement(current, fileSize, findings);
  return { header, slot: current.slot };
}

function chooseSlot(bytes: Uint8Array, [first, second]: Slots, findings: Findings): SlotState | null {
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
  if (first.header === null || second.header === null) {
    const [current, damaged] = first.header === null ? [second, first] : [first, second];
    findings.warning({
      rule: "HEADER_DAMAGED",
      code: damaged.damage!.startsWith("signature") ? "BAD_SIGNATURE" : "CHECKSUM_MISMATCH",
      structure: "header",
      offset: damaged.offset,
      message: `header ${damaged.slot} is not valid (${damaged.damage}); header ${current.slot} is current and complete, so the file reads correctly`,
      repairable: true,
    });
    return current;
  }
  if (
    first.header.sequenceNumber === second.header.sequenceNumber &&
    !sameBytes(bytes, HEADER_1_OFFSET, HEADER_2_OFFSET, HEADER_SIZE)
  ) {
    findings.error({
      rule: "AMBIGUOUS_HEADER",
      code: "AMBIGUOUS_HEADER",
      structure: "header",
      offset: HEADER_1_OFFSET,
      message: `both headers are valid with sequence number ${first.header.sequenceNumber} but differ; no reader can tell which is current`,
    });
    return null;
  }
  return second.header.sequenceNumber > first.header.sequenceNumber ? second : first;
}

/** The validator's rules of the current header; false when its version says nothing more can be read. */
function checkHeaderRules(current: SlotState, findings: Findings): boolean {
  const header = current.header!;
  const where = { structure: "header", offset: current.offset };
  for (const v of validateHeader(header)) {
    if (v.rule === "SIGNATURE" || v.rule === "CHECKSUM") continue;
    if (v.rule === "VERSION") {
      findings.error({
        ...where,
        rule: "HEADER_VERSION",
        code: v.code,
        message: `current header ${current.slot}: ${v.message}`,
      });
      return false;
    }
    if (v.rule === "LOG_VERSION") {
      const message = `current header ${current.slot}: ${v.message}`;
      if (isNilGuid(header.logGuid)) findings.warning({ ...where, rule: "LOG_VERSION", code: v.code, message });
      else
        findings.error({
          ...where,
          rule: "LOG_VERSION",
          code: v.code,
          message: `${message}; its log cannot be replayed`,
        });
      continue;
    }
    const init = { ...where, code: v.code, message: `current header ${current.slot}: ${v.field}: ${v.message}` };
    if (v.rule === "RESERVED") findings.warning({ ...init, rule: "HEADER_RESERVED" });
    else findings.error({ ...init, rule: "LOG_LAYOUT" });
  }
  return true;
}

function checkLogPlacement(current: SlotState, fileSize: number, findings: Findings): void {
  const header = current.header!;
  const where = { structure: "header", offset: current.offset };
  if (header.logLength > 0 && header.logOffset + header.logLength > fileSize) {
    findings.error({
      ...where,
      rule: "LOG_PAST_EOF",
      code: "TRUNCATED",
      message: `the log ${hex(header.logOffset)}-${hex(header.logOffset + header.logLength)} ends past the end of the file (${hex(fileSize)})`,
    });
  }
  if (header.logLength === 0 && !isNilGuid(header.logGuid)) {
    findings.error({
      ...where,
      rule: "LOG_LAYOUT",
      code: "LOG_CORRUPT",
      message: `LogGuid is ${header.logGuid} but the log has length 0`,
    });
  }
}
