// The whole check of one file, structure by structure, without openImage: a
// file openImage refuses (one damaged header, a damaged region table copy,
// blocks past the end of the file) is still inspected as far as its bytes
// allow. Opening is used for what it alone can do: replay a log in memory (to
// check the file as it will be once replayed), and follow the parent locator
// to the parent (the linkage rule). When opening refuses a file this check
// found nothing wrong with, that is reported too, so a check never calls
// clean a file the library will not open.
import { isNilGuid } from "@vhdx/guid";
import {
  FILE_IDENTIFIER_SIGNATURE,
  HEADER_1_OFFSET,
  HEADER_2_OFFSET,
  HEADER_SECTION_SIZE,
  type Header,
  VhdxError,
} from "@vhdx/structs";
import type { VhdxImage } from "../image.js";
import { notVhdxError, probeFormat } from "../open/probe-format.js";
import type { RandomAccessSource } from "../sources/source.js";
import type { BytesEqual } from "./bat-stream.js";
import { readHeaderArea } from "./bytes.js";
import { checkBat } from "./check-bat.js";
import { Findings } from "./findings.js";
import { checkHeaders } from "./header-slots.js";
import { checkMetadata } from "./metadata.js";
import { type CheckReport, emptyReport, finishReport } from "./report.js";
import { checkRegionTables } from "./region-tables.js";
import { reportOpenFailure, reportParent } from "./verdict.js";

/** What differs between hosts: how the image is opened, and how bytes are compared. */
export interface CheckHost {
  /** Opens the image read-only, with the caller's parents: the library's own verdict. */
  open(): Promise<VhdxImage>;
  bytesEqual: BytesEqual;
  onProgress?: ((done: number, total: number) => void) | undefined;
}

export async function runCheck(source: RandomAccessSource, host: CheckHost): Promise<CheckReport> {
  const fileSize = await source.size();
  const head = await readHeaderArea(source);
  await assertVhdx(source, head);
  const findings = new Findings();
  const report = emptyReport(source.name, fileSize);
  if (fileSize < HEADER_SECTION_SIZE) reportShortFile(fileSize, findings);
  const headers = checkHeaders(head, fileSize, findings);
  if (headers === null) return finishReport(report, findings);
  report.headerSlot = headers.slot;
  let opened: VhdxImage | null = null;
  try {
    let view = source;
    let area = head;
    if (!isNilGuid(headers.header.logGuid)) {
      report.needsReplay = true;
      reportLogToReplay(headers.header, headers.slot, findings);
      opened = await openOrReport(host, findings, true);
      if (opened === null) return finishReport(report, findings);
      view = opened.source;
      area = await readHeaderArea(view);
    }
    await checkStructures({ view, area, header: headers.header }, host, report, findings);
    opened ??= await openOrReport(host, findings, false);
    if (opened !== null) reportParent(opened, report, findings);
    return finishReport(report, findings);
  } finally {
    await opened?.close().catch(() => undefined);
  }
}

/** The file as checked: itself, or with its log replayed in memory. */
interface View {
  view: RandomAccessSource;
  /** Its first 320 KiB. */
  area: Uint8Array;
  /** The current header. */
  header: Header;
}

/** Region tables, metadata and BAT, as the view holds them. */
async function checkStructures(
  { view, area, header }: View,
  host: CheckHost,
  report: CheckReport,
  findings: Findings,
): Promise<void> {
  const viewSize = await view.size();
  report.imageEndOffset = viewSize;
  const regions = checkRegionTables(area, header, viewSize, findings);
  if (regions === null) return;
  report.regionTableCopy = regions.copy;
  const metadata = regions.metadata === null ? null : await checkMetadata(view, regions.metadata, viewSize, findings);
  if (metadata === null) return;
  const { fileParameters } = metadata;
  report.diskType = fileParameters.hasParent
    ? "differencing"
    : fileParameters.leaveBlockAllocated
      ? "fixed"
      : "dynamic";
  report.virtualSize = metadata.virtualSize;
  report.blockSize = fileParameters.blockSize;
  report.logicalSectorSize = metadata.logicalSectorSize;
  report.totalBlocks = metadata.geometry.payloadBlockCount;
  if (regions.bat === null) return;
  const bat = await checkBat({
    source: view,
    region: regions.bat,
    metadata,
    structures: regions.extents,
    fileSize: viewSize,
    findings,
    bytesEqual: host.bytesEqual,
    onProgress: host.onProgress,
  });
  if (bat === null) return;
  report.allocatedBlocks = bat.allocatedBlocks;
  report.leakedBytes = bat.leakedBytes;
  report.leakedRanges = bat.leakedRanges;
  report.paddingBytes = bat.paddingBytes;
  report.preallocatedBytes = bat.preallocatedBytes;
  report.reservedRanges = bat.reservedRanges;
  report.batBytes = bat.batBytes;
}

function reportShortFile(fileSize: number, findings: Findings): void {
  findings.error({
    rule: "HEADER_SECTION_TRUNCATED",
    code: "TRUNCATED",
    structure: "header section",
    offset: 0,
    message: `the file is ${fileSize} bytes, shorter than the 1 MiB header section`,
  });
}

function reportLogToReplay(header: Header, slot: 1 | 2, findings: Findings): void {
  findings.error({
    rule: "LOG_REPLAY_NEEDED",
    code: "LOG_REPLAY_NEEDED",
    structure: "header",
    offset: slot === 1 ? HEADER_1_OFFSET : HEADER_2_OFFSET,
    message: `the image needs a log replay: LogGuid ${header.logGuid} is set, so the log holds updates not yet applied to the file (the rest of this check sees the file as replayed in memory; readers that refuse to replay read-only, such as QEMU, refuse the file)`,
    repairable: true,
  });
}

/** The opened image, or null with the refusal reported. */
async function openOrReport(host: CheckHost, findings: Findings, replaying: boolean): Promise<VhdxImage | null> {
  try {
    return await host.open();
  } catch (error) {
    if (!VhdxError.isInstance(error)) throw error;
    reportOpenFailure(findings, error, replaying);
    return null;
  }
}

/**
 * A file that does not start with "vhdxfile" is no VHDX to check: NOT_VHDX or
 * UNSUPPORTED_FORMAT (as openImage says) when it holds no VHDX structure at
 * all, BAD_SIGNATURE when only its file identifier is damaged; thrown.
 */
async function assertVhdx(source: RandomAccessSource, head: Uint8Array): Promise<void> {
  const name = source.name;
  const signature = String.fromCharCode(...head.subarray(0, 8));
  if (signature === FILE_IDENTIFIER_SIGNATURE) return;
  const other = notVhdxError(await probeFormat(source), name);
  if (other !== null) throw other;
  const found = [...head.subarray(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join(" ");
  throw new VhdxError(
    "BAD_SIGNATURE",
    `${name} is not a VHDX file: it does not start with "vhdxfile" (its first bytes are ${found})`,
    {
      structure: "file identifier",
      offset: 0,
    },
  );
}
