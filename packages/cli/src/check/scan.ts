// The whole check of one file, structure by structure, without openImage: a
// file openImage refuses (one damaged header, a damaged region table copy,
// blocks past the end of the file) is still inspected as far as its bytes
// allow. openImage is used for what it alone can do: replay a log in memory
// (to check the file as it will be once replayed), and follow the parent
// locator to the parent (the linkage rule). When it refuses a file this scan
// found nothing wrong with, that is reported too, so `check` never calls
// clean a file the library will not open.
import { isNilGuid } from "@vhdx/guid";
import { type RandomAccessSource, type VhdxImage, VhdxError } from "@vhdx/image";
import { FileSource, openVhdx } from "@vhdx/image/node";
import { FILE_IDENTIFIER_SIGNATURE, HEADER_1_OFFSET, HEADER_2_OFFSET, HEADER_SECTION_SIZE } from "@vhdx/structs";
import { type BatScan, checkBat } from "./bat.js";
import type { FileRange, ReservedRange } from "./file-space.js";
import { Findings, type Problem } from "./findings.js";
import { HEADER_AREA_LENGTH, checkHeaders, checkRegionTables, readPadded } from "./header-section.js";
import { type MetadataState, checkMetadata } from "./metadata.js";

export interface Repair {
  rule: string;
  message: string;
}

export interface CheckReport {
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
  headerSlot: 1 | 2 | null;
  regionTableCopy: 1 | 2 | null;
  errors: Problem[];
  warnings: Problem[];
  /** Exact counts; the lists keep at most 100 problems of each rule. */
  errorCount: number;
  warningCount: number;
  omittedErrors: number;
  omittedWarnings: number;
  /** Bytes of the file nothing refers to and no creator left on purpose (see ../check/file-space.ts). */
  leakedBytes: number | null;
  /** The first 100 leaked ranges, merged. */
  leakedRanges: FileRange[];
  /** Unreferenced but not leaked: room after the metadata region, the rest of a partial last block. */
  paddingBytes: number | null;
  /** Unreferenced but not leaked: a fixed disk's space for blocks without a file offset. */
  preallocatedBytes: number | null;
  /** The first 100 padding and preallocated ranges, merged, each with its kind. */
  reservedRanges: ReservedRange[];
  allocatedBlocks: number | null;
  totalBlocks: number | null;
  imageEndOffset: number;
  /** The parent found through the locator (differencing disks). */
  parent: string | null;
  /** Size of the BAT the check streamed through. */
  batBytes: number | null;
  /** What --repair changed (empty without --repair). */
  repaired: Repair[];
}

export interface ScanOptions {
  /** Called as the BAT is read (entries done, entries in all). */
  onProgress?: (done: number, total: number) => void;
  /** Told the BAT size before it is read, to decide whether to show progress. */
  onBatSize?: (entries: number) => void;
  /** Read the image even while another program writes it (-U). */
  forceShare?: boolean;
  /** Let parent locators lead outside the child's folder (the CLI's default). */
  allowParentOutsideTree?: boolean;
}

const PARENT_CODES = new Set(["PARENT_NOT_FOUND", "PARENT_LINKAGE_MISMATCH", "PARENT_LOOP"]);

export async function scanFile(path: string, options: ScanOptions = {}): Promise<CheckReport> {
  const file = await FileSource.open(path, { forceShare: options.forceShare ?? false });
  const open = { forceShare: options.forceShare ?? false, allowParentOutsideTree: options.allowParentOutsideTree ?? false };
  let opened: VhdxImage | null = null;
  try {
    const fileSize = await file.size();
    const head = await readPadded(file, 0, HEADER_AREA_LENGTH);
    assertVhdx(head, path);
    const findings = new Findings();
    const report = emptyReport(path, fileSize);
    if (fileSize < HEADER_SECTION_SIZE) {
      findings.error({
        rule: "HEADER_SECTION_TRUNCATED",
        code: "TRUNCATED",
        structure: "header section",
        offset: 0,
        message: `the file is ${fileSize} bytes, shorter than the 1 MiB header section`,
      });
    }
    const headers = checkHeaders(head, fileSize, findings);
    if (headers === null) return finish(report, findings);
    report.headerSlot = headers.slot;

    let view: RandomAccessSource = file;
    let area = head;
    let openError: unknown = null;
    if (!isNilGuid(headers.header.logGuid)) {
      report.needsReplay = true;
      findings.error({
        rule: "LOG_REPLAY_NEEDED",
        code: "LOG_REPLAY_NEEDED",
        structure: "header",
        offset: headers.slot === 1 ? HEADER_1_OFFSET : HEADER_2_OFFSET,
        message: `the image needs a log replay: LogGuid ${headers.header.logGuid} is set, so the log holds updates not yet applied to the file (the rest of this check sees the file as replayed in memory; readers that refuse to replay read-only, such as QEMU, refuse the file)`,
        repairable: true,
      });
      try {
        opened = await openVhdx(path, open);
      } catch (error) {
        if (!VhdxError.isInstance(error)) throw error;
        reportOpenFailure(findings, error, true);
        return finish(report, findings);
      }
      view = opened.source;
      area = await readPadded(view, 0, HEADER_AREA_LENGTH);
    }
    const viewSize = await view.size();
    report.imageEndOffset = viewSize;
    const regions = checkRegionTables(area, headers.header, viewSize, findings);
    let metadata: MetadataState | null = null;
    let bat: BatScan | null = null;
    if (regions !== null) {
      report.regionTableCopy = regions.copy;
      if (regions.metadata !== null) metadata = await checkMetadata(view, regions.metadata, viewSize, findings);
      if (metadata !== null) {
        const { fileParameters } = metadata;
        report.diskType = fileParameters.hasParent ? "differencing" : fileParameters.leaveBlockAllocated ? "fixed" : "dynamic";
        report.virtualSize = metadata.virtualSize;
        report.blockSize = fileParameters.blockSize;
        report.logicalSectorSize = metadata.logicalSectorSize;
        report.totalBlocks = metadata.geometry.payloadBlockCount;
        if (regions.bat !== null) {
          options.onBatSize?.(metadata.geometry.batEntryCount);
          bat = await checkBat(view, regions.bat, metadata, regions.extents, viewSize, findings, options.onProgress);
        }
      }
    }
    if (bat !== null) {
      report.allocatedBlocks = bat.allocatedBlocks;
      report.leakedBytes = bat.leakedBytes;
      report.leakedRanges = bat.leakedRanges;
      report.paddingBytes = bat.paddingBytes;
      report.preallocatedBytes = bat.preallocatedBytes;
      report.reservedRanges = bat.reservedRanges;
      report.batBytes = bat.batBytes;
    }

    // The parent linkage, and the library's own verdict on opening the file.
    if (opened === null) {
      try {
        opened = await openVhdx(path, open);
      } catch (error) {
        if (!VhdxError.isInstance(error)) throw error;
        openError = error;
      }
    }
    if (openError !== null) reportOpenFailure(findings, openError as VhdxError, false);
    if (opened?.parent) {
      report.parent = opened.parent.source.name;
      if (opened.parent.virtualSize !== opened.virtualSize) {
        findings.warning({
          rule: "PARENT_SIZE",
          structure: "parent locator",
          offset: null,
          message: `the parent ${opened.parent.source.name} is ${opened.parent.virtualSize} bytes, this disk ${opened.virtualSize}; what lies past the parent's end reads as zeros`,
        });
      }
    }
    return finish(report, findings);
  } finally {
    await opened?.close().catch(() => undefined);
    await file.close();
  }
}

function reportOpenFailure(findings: Findings, error: VhdxError, replaying: boolean): void {
  const where = { code: error.code, structure: error.structure ?? "image", offset: error.offset ?? null };
  if (PARENT_CODES.has(error.code)) {
    findings.error({ ...where, rule: "PARENT_LINKAGE", structure: "parent locator", message: error.detail });
  } else if (replaying && (error.code === "LOG_CORRUPT" || error.code === "TRUNCATED" || error.code === "UNSUPPORTED")) {
    findings.error({ ...where, rule: "LOG_CORRUPT", message: `the log cannot be replayed: ${error.detail}` });
  } else if (replaying || findings.errorCount === 0) {
    // Refused for a rule this scan did not see broken (or could not look at past the log).
    findings.error({ ...where, rule: "OPEN_REFUSED", message: `the image cannot be opened: ${error.message}` });
  }
}

function assertVhdx(head: Uint8Array, path: string): void {
  const signature = String.fromCharCode(...head.subarray(0, 8));
  if (signature !== FILE_IDENTIFIER_SIGNATURE) {
    const found = [...head.subarray(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join(" ");
    throw new VhdxError("BAD_SIGNATURE", `${path} is not a VHDX file: it does not start with "vhdxfile" (its first bytes are ${found})`, {
      structure: "file identifier",
      offset: 0,
    });
  }
}

function emptyReport(path: string, fileSize: number): CheckReport {
  return {
    file: path,
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
    repaired: [],
  };
}

function finish(report: CheckReport, findings: Findings): CheckReport {
  report.errors = findings.errors;
  report.warnings = findings.warnings;
  report.errorCount = findings.errorCount;
  report.warningCount = findings.warningCount;
  report.omittedErrors = findings.omitted("error").reduce((sum, o) => sum + o.count, 0);
  report.omittedWarnings = findings.omitted("warning").reduce((sum, o) => sum + o.count, 0);
  report.clean = findings.errorCount === 0;
  return report;
}
