// vhdx check: every structural rule of MS-VHDX, reported like `qemu-img
// check`; --repair fixes what is safe. The rules are @vhdx/image's checkImage
// (checkVhdx for a file); the printing is in ../check-report.ts.
import { resolve } from "node:path";
import type { CheckRepair, CheckReport, RepairResult } from "@vhdx/image";
import { type CheckVhdxOptions, checkVhdx, repairVhdx } from "@vhdx/image/node";
import { printJson, printRepairs, printReport } from "../check-report.js";
import {
  type Command,
  EXIT_NO,
  EXIT_OK,
  readAccessHelp,
  READ_ACCESS_OPTIONS,
  imageAccess,
  parseCommandArgs,
  usageError,
} from "../command.js";
import { needsForceShare } from "../disk.js";
import { runInterruptible } from "../interrupt.js";
import type { CliIO } from "../io.js";
import { type Progress, progress } from "../progress.js";

const HELP = `Usage: vhdx check [-U] [--confine-parents] [--repair] [--json] FILE

Checks every structural rule of a VHDX file: the file identifier, both
headers, both region table copies and the layout (alignment, overlaps,
regions past the end of the file), the metadata table and items, every BAT
entry (states, reserved bits, blocks past the end of the file, in the header
section, over a structure or over another block), the sector bitmaps that
partially present blocks need, a log left to replay, the parent linkage of a
differencing disk, and file space nothing refers to (leaked). It works on
files that cannot be opened (a damaged header or region table copy is
reported, not fatal) and reads the BAT in 4 MiB pieces, so memory stays small
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
    if (values.repair && access.forceShare)
      throw usageError("check", "--repair writes the image; -U is only for reading");
    const options: CheckVhdxOptions = {
      forceShare: values.repair ? false : await needsForceShare(path, io, access),
      allowParentOutsideTree: !access.confineParents,
    };
    let report = await checkWithProgress(path, io, "Checking", options);
    let repaired: CheckRepair[] = [];
    let failed: CheckRepair[] = [];
    if (values.repair && [...report.errors, ...report.warnings].some((p) => p.repairable)) {
      const first = report;
      const outcome = await repairToTheEnd(path, io);
      if (typeof outcome === "number") return outcome;
      ({ repaired, failed } = outcome);
      report = await checkWithProgress(path, io, "Double checking", options);
      if (!values.json) printRepairs(io, first, repaired, failed);
    }
    if (values.json) printJson(io, report, repaired, failed);
    else printReport(io, report, values.repair === true);
    return report.clean ? EXIT_OK : EXIT_NO;
  },
};

/**
 * repairVhdx, which a signal does not cut short: each repair is a few small
 * flushed writes, over in moments, and stopping between them gains nothing.
 * A signal that came meanwhile ends the command after the repairs, before the
 * second check (exit status 128 + its number).
 */
async function repairToTheEnd(path: string, io: CliIO): Promise<RepairResult | number> {
  return runInterruptible(io, async (interrupts) => {
    const outcome = await repairVhdx(path);
    const done = outcome.repaired.map((r) => r.rule).join(", ");
    interrupts.report(
      () =>
        `the repairs were finished first (${done === "" ? "none succeeded" : done}); run vhdx check ${path} to check the result`,
    );
    return outcome;
  });
}

async function checkWithProgress(
  path: string,
  io: CliIO,
  label: string,
  options: CheckVhdxOptions,
): Promise<CheckReport> {
  const shown: { bar: Progress | null } = { bar: null };
  try {
    return await checkVhdx(path, {
      ...options,
      onProgress: (done, total) => {
        if (done === 0 && total >= PROGRESS_ENTRIES) shown.bar = progress(io, `${label} the BAT`, total);
        else if (done > 0) shown.bar?.update(done);
      },
    });
  } finally {
    shown.bar?.finish();
  }
}
