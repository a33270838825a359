// What checkImage returns. The field names are those of `vhdx check --json`,
// which prints this report.
import type { CheckFinding, Findings } from "./findings.js";

export interface FileRange {
  offset: number;
  length: number;
}

export interface ReservedRange extends FileRange {
  kind: "padding" | "preallocated";
}

export interface CheckReport {
  /** The source's name (a path for a file). */
  file: string;
  format: "vhdx";
  diskType: "fixed" | "dynamic" | "differencing" | null;
  virtualSize: number | null;
  blockSize: number | null;
  logicalSectorSize: number | null;
  fileSize: number;
  /** No errors (warnings and leaked space do not count). */
  clean: boolean;
  /** LogGuid is set: the file holds a log that was not replayed. */
  needsReplay: boolean;
  /** The header slot in use, when one could be chosen. */
  headerSlot: 1 | 2 | null;
  /** The region table copy in use, when one is intact. */
  regionTableCopy: 1 | 2 | null;
  errors: CheckFinding[];
  warnings: CheckFinding[];
  /** Exact counts; the lists keep at most 100 findings of each rule. */
  errorCount: number;
  warningCount: number;
  omittedErrors: number;
  omittedWarnings: number;
  /** Bytes of the file nothing refers to and no creator left on purpose (see file-space.ts). */
  leakedBytes: number | null;
  /** The first 100 leaked ranges, merged. */
  leakedRanges: FileRange[];
  /** Unreferenced but not leaked: room after the metadata region, the rest of a partial last block. */
  paddingBytes: number | null;
  /** Unreferenced but not leaked: a fixed disk's space for blocks without a file offset. */
  preallocatedBytes: number | null;
  /** The first 100 padding and preallocated ranges, merged, each with its kind. */
  reservedRanges: ReservedRange[];
  /** Payload blocks with data in this file (FULLY_PRESENT, or PARTIALLY_PRESENT in a differencing disk). */
  allocatedBlocks: number | null;
  totalBlocks: number | null;
  /** The size of the file as checked (after a log replayed in memory). */
  imageEndOffset: number;
  /** The name of the parent found through the locator (differencing disks). */
  parent: string | null;
  /** Size of the BAT the check streamed through (the BAT is never held whole). */
  batBytes: number | null;
}

export function emptyReport(file: string, fileSize: number): CheckReport {
  return {
    file,
    format: "vhdx",
    diskType: null,
    virtualSize: null,
    blockSize: null,
    logicalSectorSize: null,
    fileSize,
    clean: false,
    needsReplay: false,
    headerSlot: null,
    regionTableCopy: null,
    errors: [],
    warnings: [],
    errorCount: 0,
    warningCount: 0,
    omittedErrors: 0,
    omittedWarnings: 0,
    leakedBytes: null,
    leakedRanges: [],
    paddingBytes: null,
    preallocatedBytes: null,
    reservedRanges: [],
    allocatedBlocks: null,
    totalBlocks: null,
    imageEndOffset: fileSize,
    parent: null,
    batBytes: null,
  };
}

/** Copies the findings into the report and gives the verdict. */
export function finishReport(report: CheckReport, findings: Findings): CheckReport {
  report.errors = findings.errors;
  report.warnings = findings.warnings;
  report.errorCount = findings.errorCount;
  report.warningCount = findings.warningCount;
  report.omittedErrors = findings.omitted("error");
  report.omittedWarnings = findings.omitted("warning");
  report.clean = findings.errorCount === 0;
  return report;
}
