// vhdx check: every structural rule of MS-VHDX, reported like `qemu-img
// check`; --repair fixes what is safe (see ../check/repair.ts). The rules live
// in ../check/: header-section.ts (headers, region tables), metadata.ts,
// bat.ts (states, placement, bitmaps, leaks), scan.ts (log, parent linkage).
import { resolve } from "node:path";
import type { Problem } from "../check/findings.js";
import { type RepairOutcome, repairFile } from "../check/repair.js";
import { type CheckReport, type Repair, type ScanOptions, scanFile } from "../check/scan.js";
import { type Command, EXIT_NO, EXIT_OK, readAccessHelp, READ_ACCESS_OPTIONS, imageAccess, parseCommandArgs, usageError } from "../command.js";
import { needsForceShare, requireVhdx } from "../disk.js";
import { runInterruptible } from "../interrupt.js";
import { type CliIO, writeJson, writeLine } from "../io.js";
import { type Progress, progress } from "../progress.js";
import { formatSize } from "../sizes.js";

const HELP = `Usage: vhdx check [-U] [--confine-parents] [--repair] [--json] FILE

Checks every structural rule of a VHDX file: the file identifier, both
headers, both region table copies and the layout (alignment, overlaps,
regions past the end of the file), the metadata table and items, every BAT
entry (states, reserved bits, blocks past the end of the file, in the header
section, over a structure or over another block), the sector bitmaps that
partially present blocks need, a log left to replay, the parent linkage of a
differencing disk, and file space nothing refers to (leaked). It works on
files that cannot be opened (a damaged header or region table copy is
reported, not fatal) and reads the BAT in 1 MiB pieces, so memory stays small
even for a 64 TiB disk.

Errors break a rule: data may read wrong, or a write may make it so.
Warnings bend one without harm (one damaged header slot, reserved bits set).
Leaked space is wasted, not harmful: MiBs of the file no structure, block or
BAT entry refers to, which writers do not reuse (they add blocks at the end).
Unreferenced space a creator leaves on purpose is not leaked, only noted:
  - padding: up to 4 MiB right after the metadata region (QEMU starts its
    blocks there), and the rest of a partial last block (allocated whole)
  - preallocated: a fixed disk's space for blocks with no file offset (QEMU
    marks a fixed disk's blocks ZERO by default and puts written ones at the
    end of the file), at most the virtual size, right after the structures
--json has leakedBytes and leakedRanges for leaks only, paddingBytes,
preallocatedBytes, and reservedRanges ({offset, length, kind: "padding" or
"preallocated"}); each range list keeps the first 100 ranges.
qemu-img check reports no leaks for a VHDX: it replays the log and tests that
fully present blocks lie inside the file and off its structures, nothing
more. So a block whose BAT entry was cleared, or a file grown past its last
block, is leaked space here and clean there.

--repair fixes what is safe, then checks again:
  - replays a log left by a crash (as any read-write open does)
  - rewrites a damaged header slot from the current header (header update protocol)
  - restores a damaged or differing region table copy from the intact one
It never touches the BAT: blocks past the end of the file or overlapping
others are data loss to decide on, not to hide.
A signal (Ctrl-C, SIGTERM, SIGHUP) during the repairs lets them finish (each
is a few flushed writes), then ends vhdx check before checking again, with
exit status 128 + the signal's number.

Options:
  --repair  fix what can be fixed without losing data (writes the file)
  --json    machine-readable report (camelCase fields)
${readAccessHelp(12)}

Exit status: 0 no errors (warnings and leaks allowed), 1 errors found
(after --repair: errors left), 2 the file could not be checked (not a VHDX
file, unreadable, bad arguments).

Examples:
  vhdx check disk.vhdx
  vhdx check --repair crashed.vhdx
  vhdx check --json disk.vhdx | jq .errors`;

/** BATs at least this big (1M entries, 8 MiB) get a progress bar on a terminal. */
const PROGRESS_ENTRIES = 1 << 20;

export const check: Command = {
  name: "check",
  summary: "check every structural rule; --repair replays a log and fixes what is safe",
  help: HELP,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(
      "check",
      args,
      { repair: { type: "boolean", short: "r" }, json: { type: "boolean" }, ...READ_ACCESS_OPTIONS },
      { min: 1, max: 1 },
    );
    const path = resolve(io.cwd, positionals[0]!);
    const access = imageAccess(values);
    if (values.repair && access.forceShare) throw usageError("check", "--repair writes the image; -U is only for reading");
    await requireVhdx(path);
    const scan: ScanOptions = {
      forceShare: values.repair ? false : await needsForceShare(path, io, access),
      allowParentOutsideTree: !access.confineParents,
    };
    let report = await scanWithProgress(path, io, "Checking", scan);
    let failed: Repair[] = [];
    if (values.repair && (report.errors.some((p) => p.repairable) || report.warnings.some((p) => p.repairable))) {
      const first = report;
      const outcome = await repairToTheEnd(path, io);
      if (typeof outcome === "number") return outcome;
      failed = outcome.failed;
      report = await scanWithProgress(path, io, "Double checking", scan);
      report.repaired = outcome.repaired;
      if (!values.json) printRepairs(io, first, outcome.repaired, failed);
    }
    if (values.json) writeJson(io, { ...report, ...(failed.length > 0 ? { repairFailed: failed } : {}) });
    else printReport(io, report, values.repair === true);
    return report.clean ? EXIT_OK : EXIT_NO;
  },
};

/**
 * repairFile, which a signal does not cut short: each repair is a few small
 * flushed writes, over in moments, and stopping between them gains nothing.
 * A signal that came meanwhile ends the command after the repairs, before the
 * second scan (exit status 128 + its number).
 */
async function repairToTheEnd(path: string, io: CliIO): Promise<RepairOutcome | number> {
  return runInterruptible(io, async (interrupts) => {
    const outcome = await repairFile(path);
    const done = outcome.repaired.map((r) => r.rule).join(", ");
    interrupts.report(() => `the repairs were finished first (${done === "" ? "none succeeded" : done}); run vhdx check ${path} to check the result`);
    return outcome;
  });
}

async function scanWithProgress(path: string, io: CliIO, label: string, scan: ScanOptions): Promise<CheckReport> {
  const shown: { bar: Progress | null } = { bar: null };
  try {
    return await scanFile(path, {
      ...scan,
      onBatSize: (entries) => {
        if (entries >= PROGRESS_ENTRIES) shown.bar = progress(io, `${label} the BAT`, entries);
      },
      onProgress: (done) => shown.bar?.update(done),
    });
  } finally {
    shown.bar?.finish();
  }
}

function printRepairs(io: CliIO, before: CheckReport, repaired: Repair[], failed: Repair[]): void {
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

function printReport(io: CliIO, report: CheckReport, repairing: boolean): void {
  const out = io.stdout;
  writeLine(out, describe(report));
  for (const problem of report.errors) writeLine(out, line("ERROR", problem, repairing));
  if (report.omittedErrors > 0) writeLine(out, `... and ${report.omittedErrors} more error(s) not listed (at most 100 per rule; --json has the counts)`);
  for (const problem of report.warnings) writeLine(out, line("Warning", problem, repairing));
  if (report.omittedWarnings > 0) writeLine(out, `... and ${report.omittedWarnings} more warning(s) not listed`);
  writeLine(out);
  if (report.errorCount === 0) {
    writeLine(out, "No errors were found on the image.");
  } else {
    writeLine(out, `${report.errorCount} errors were found on the image.`);
    writeLine(out, "Data may be corrupted, or further writes to the image may corrupt it.");
    const fixable = report.errors.filter((p) => p.repairable).length;
    if (fixable > 0 && !repairing) writeLine(out, `vhdx check --repair can fix ${fixable} of them without losing data.`);
  }
  if (report.needsReplay) writeLine(out, "The image needs a log replay (vhdx check --repair replays it).");
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

function line(kind: string, problem: Problem, repairing: boolean): string {
  const at = problem.offset === null ? "" : ` @0x${problem.offset.toString(16)}`;
  const fix = problem.repairable && !repairing ? " (--repair fixes this)" : "";
  return `${kind} [${problem.rule}] ${problem.structure}${at}: ${problem.message}${fix}`;
}
