// How `vhdx check` prints a CheckReport of @vhdx/image: as qemu-img check
// does, or as JSON (the report's fields, findings without their severity,
// which the list they are in already says).
import type { CheckFinding, CheckRepair, CheckReport } from "@vhdx/image";
import { type CliIO, writeJson, writeLine } from "./io.js";
import { formatSize } from "./sizes.js";

export function printJson(io: CliIO, report: CheckReport, repaired: CheckRepair[], failed: CheckRepair[]): void {
  const json = {
    ...report,
    errors: report.errors.map(withoutSeverity),
    warnings: report.warnings.map(withoutSeverity),
    repaired,
  };
  writeJson(io, failed.length > 0 ? { ...json, repairFailed: failed } : json);
}

function withoutSeverity({ severity: _, ...finding }: CheckFinding): Omit<CheckFinding, "severity"> {
  return finding;
}

export function printRepairs(io: CliIO, before: CheckReport, repaired: CheckRepair[], failed: CheckRepair[]): void {
  const out = io.stdout;
  if (repaired.length > 0) {
    writeLine(out, "The following inconsistencies were found and repaired:");
    writeLine(out);
    for (const r of repaired) writeLine(out, `    [${r.rule}] ${r.message}`);
    writeLine(out);
  }
  for (const f of failed) writeLine(out, `Could not repair [${f.rule}]: ${f.message}`);
  if (repaired.length > 0 || failed.length > 0) {
    writeLine(out, `(${before.errorCount} error(s) and ${before.warningCount} warning(s) before repairing)`);
    writeLine(out, "Double checking the fixed image now...");
  }
}

export function printReport(io: CliIO, report: CheckReport, repairing: boolean): void {
  const out = io.stdout;
  writeLine(out, describe(report));
  for (const finding of report.errors) writeLine(out, line("ERROR", finding, repairing));
  if (report.omittedErrors > 0)
    writeLine(
      out,
      `... and ${report.omittedErrors} more error(s) not listed (at most 100 per rule; --json has the counts)`,
    );
  for (const finding of report.warnings) writeLine(out, line("Warning", finding, repairing));
  if (report.omittedWarnings > 0) writeLine(out, `... and ${report.omittedWarnings} more warning(s) not listed`);
  writeLine(out);
  printVerdict(io, report, repairing);
  if (report.leakedBytes !== null && report.leakedBytes > 0) {
    writeLine(out);
    writeLine(out, `${report.leakedBytes} leaked bytes (${formatSize(report.leakedBytes)}) were found on the image.`);
    writeLine(out, "This means waste of disk space, but no harm to data.");
  }
  const reserved = describeReserved(report);
  if (reserved !== null) writeLine(out, reserved);
  if (report.allocatedBlocks !== null && report.totalBlocks !== null && report.totalBlocks > 0) {
    const percent = ((report.allocatedBlocks / report.totalBlocks) * 100).toFixed(2);
    writeLine(out, `${report.allocatedBlocks}/${report.totalBlocks} = ${percent}% allocated blocks`);
  }
  writeLine(out, `Image end offset: ${report.imageEndOffset}`);
}

function printVerdict(io: CliIO, report: CheckReport, repairing: boolean): void {
  const out = io.stdout;
  if (report.errorCount === 0) {
    writeLine(out, "No errors were found on the image.");
  } else {
    writeLine(out, `${report.errorCount} errors were found on the image.`);
    writeLine(out, "Data may be corrupted, or further writes to the image may corrupt it.");
    const fixable = report.errors.filter((p) => p.repairable).length;
    if (fixable > 0 && !repairing)
      writeLine(out, `vhdx check --repair can fix ${fixable} of them without losing data.`);
  }
  if (report.needsReplay) writeLine(out, "The image needs a log replay (vhdx check --repair replays it).");
}

/** Padding and preallocated space, as a note: neither is a problem. */
function describeReserved(report: CheckReport): string | null {
  const padding = report.paddingBytes ?? 0;
  const preallocated = report.preallocatedBytes ?? 0;
  const total = padding + preallocated;
  if (total === 0) return null;
  const what =
    preallocated === 0
      ? "padding"
      : padding === 0
        ? "space preallocated by the creator"
        : `padding (${formatSize(padding)}) and space preallocated by the creator (${formatSize(preallocated)})`;
  return `${total} bytes (${formatSize(total)}) of ${what}; not a leak.`;
}

function describe(report: CheckReport): string {
  const parts: string[] = [];
  if (report.diskType !== null) parts.push(report.diskType);
  if (report.virtualSize !== null) parts.push(`virtual size ${formatSize(report.virtualSize)}`);
  if (report.blockSize !== null) parts.push(`${formatSize(report.blockSize)} blocks`);
  parts.push(`file ${formatSize(report.fileSize)}`);
  if (report.parent !== null) parts.push(`parent ${report.parent}`);
  return `Image: ${report.file} (${parts.join(", ")})`;
}

function line(kind: string, finding: CheckFinding, repairing: boolean): string {
  const at = finding.offset === null ? "" : ` @0x${finding.offset.toString(16)}`;
  const fix = finding.repairable && !repairing ? " (--repair fixes this)" : "";
  return `${kind} [${finding.rule}] ${finding.structure}${at}: ${finding.message}${fix}`;
}
