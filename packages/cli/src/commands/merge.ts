// vhdx merge: writes a differencing disk's own data into its parent (like
// Hyper-V's Merge-VHD), then removes the child, or keeps it relinked to the
// parent with --keep.
import { resolve } from "node:path";
import { type MergeVhdxOptions, type MergeVhdxResult, mergeVhdx } from "@vhdx/image/node";
import {
  chainHelp,
  CHAIN_OPTIONS,
  type Command,
  EXIT_OK,
  progressHelp,
  PROGRESS_OPTIONS,
  parseCommandArgs,
  withProgressChoice,
} from "../command.js";
import { tracker } from "../progress.js";
import { announceOnSignal, runInterruptible } from "../interrupt.js";
import { type CliIO, writeJson, writeLine } from "../io.js";
import { formatSize } from "../sizes.js";

const HELP = `Usage: vhdx merge [--keep] [-p|-q] [--confine-parents] [--json] CHILD

Merges the differencing disk CHILD into its parent, the way Hyper-V's
Merge-VHD does: everything CHILD itself holds (its data, and the ranges it
reads as zeros of its own accord) is written into the parent, which then
reads exactly as CHILD did and is the result. Ranges CHILD takes from its
parent are left alone. The parent may itself be a differencing disk (merging
the middle of a chain): only it changes, the disks below it do not.

Writing gives the parent a new DataWriteGuid, so CHILD no longer matches it.
By default CHILD is then removed. With --keep, CHILD is kept and its parent
locator is rewritten to the parent's new DataWriteGuid (parent_linkage2 is
dropped); it reads as before. --keep also gives CHILD a new DataWriteGuid, so
disks made from CHILD stop opening. Any other disk made from the parent stops
opening too, as with Merge-VHD.

A merge is not atomic. If it stops half-way (power cut, kill, full disk), the
parent is consistent (every flushed write is in it) and holds part of CHILD's
data, and CHILD still exists but no longer opens on the changed parent.
Resuming an interrupted merge is not supported: keep a copy of the parent if
you cannot afford that. So Ctrl-C, SIGTERM or SIGHUP do not stop a merge
half-way: it finishes, then vhdx merge exits with 128 + the signal's number
(130 for Ctrl-C). A second signal exits at once, as a kill would.

Options:
  --keep   keep CHILD, relinked to the merged parent (default: remove it)
  --json   print what was merged as JSON
${progressHelp(11)}
${chainHelp(11)}

A progress bar is shown on stderr when it is a terminal.

Examples:
  vhdx merge child.vhdx                  # child's data into its parent; child removed
  vhdx merge --keep snapshot.vhdx        # parent updated, snapshot.vhdx kept
  vhdx merge --json top.vhdx             # top into mid of base <- mid <- top`;

const OPTIONS = {
  keep: { type: "boolean" },
  json: { type: "boolean" },
  ...PROGRESS_OPTIONS,
  ...CHAIN_OPTIONS,
} as const;

export const merge: Command = {
  name: "merge",
  help: HELP,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs("merge", args, OPTIONS, { min: 1, max: 1 });
    io = withProgressChoice(io, values);
    const child = resolve(io.cwd, positionals[0]!);
    return runInterruptible(io, async (interrupts) => {
      // Stopped half-way, the child would no longer open and the parent would hold part of it.
      announceOnSignal(
        io,
        interrupts,
        `finishing the merge first (stopped half-way, ${positionals[0]!} would no longer open)`,
      );
      const result = await mergeShown(io, child, {
        keep: values.keep === true,
        allowParentOutsideTree: values["confine-parents"] !== true,
      });
      const fate = result.childRemoved ? "removed" : "kept, relinked to the parent";
      const summary = `merged ${positionals[0]!} into ${result.parent}: ${formatSize(result.bytesCopied)} of data, ${formatSize(result.bytesZeroed)} of zeros; ${positionals[0]!} ${fate}`;
      interrupts.report(() => `the merge was finished first: ${summary}`);
      interrupts.signal.throwIfAborted();
      if (values.json) writeJson(io, result);
      else writeLine(io.stdout, summary);
      return EXIT_OK;
    });
  },
};

/** mergeVhdx with a progress bar, made at the first block, when the child's size is known. */
async function mergeShown(io: CliIO, child: string, options: MergeVhdxOptions): Promise<MergeVhdxResult> {
  const shown: { bar: ReturnType<typeof tracker> | null } = { bar: null };
  try {
    const result = await mergeVhdx(child, {
      ...options,
      onProgress: ({ done, total }) => {
        shown.bar ??= tracker(io, "merge", total);
        shown.bar.update(done);
      },
    });
    shown.bar?.finish();
    return result;
  } catch (error) {
    shown.bar?.abandon();
    throw error;
  }
}
