// The library's own verdict on a checked file: why opening it failed, and
// what the parent it found says.
import type { VhdxError } from "@vhdx/structs";
import type { VhdxImage } from "../image.js";
import type { Findings } from "./findings.js";
import type { CheckReport } from "./report.js";

const PARENT_CODES = new Set(["PARENT_NOT_FOUND", "PARENT_LINKAGE_MISMATCH", "PARENT_LOOP"]);
/** Codes of a log that cannot be replayed. */
const REPLAY_CODES = new Set(["LOG_CORRUPT", "TRUNCATED", "UNSUPPORTED"]);

/**
 * A refused open as a finding: a broken parent linkage, a log that cannot be
 * replayed, or (when the check itself saw nothing wrong, or could not look
 * past the log) the refusal itself.
 */
export function reportOpenFailure(findings: Findings, error: VhdxError, replaying: boolean): void {
  const where = { code: error.code, structure: error.structure ?? "image", offset: error.offset ?? null };
  if (PARENT_CODES.has(error.code)) {
    findings.error({ ...where, rule: "PARENT_LINKAGE", structure: "parent locator", message: error.detail });
  } else if (replaying && REPLAY_CODES.has(error.code)) {
    findings.error({ ...where, rule: "LOG_CORRUPT", message: `the log cannot be replayed: ${error.detail}` });
  } else if (replaying || findings.errorCount === 0) {
    findings.error({ ...where, rule: "OPEN_REFUSED", message: `the image cannot be opened: ${error.message}` });
  }
}

/** Names the parent, and warns when its size differs from the child's. */
export function reportParent(image: VhdxImage, report: CheckReport, findings: Findings): void {
  const { parent } = image;
  if (!parent) return;
  report.parent = parent.source.name;
  if (parent.virtualSize !== image.virtualSize) {
    findings.warning({
      rule: "PARENT_SIZE",
      structure: "parent locator",
      offset: null,
      message: `the parent ${parent.source.name} is ${parent.virtualSize} bytes, this disk ${image.virtualSize}; what lies past the parent's end reads as zeros`,
    });
  }
}
