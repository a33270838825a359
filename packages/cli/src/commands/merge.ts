// vhdx merge: writes a differencing disk's own data into its parent (like
// Hyper-V's Merge-VHD), then removes the child, or keeps it relinked to the
// parent with --keep.
import { resolve } from "node:path";
import { mergeVhdx } from "@vhdx/image/node";
import { type Command, EXIT_OK, parseCommandArgs } from "../command.js";
import { tracker } from "../copy.js";
import { writeJson, writeLine } from "../io.js";
import { formatSize } from "../sizes.js";

const HELP = `Usage: vhdx merge [--keep] [--json] CHILD

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
you cannot afford that.

Options:
  --keep   keep CHILD, relinked to the merged parent (default: remove it)
  --json   print what was merged as JSON

A progress bar is shown on stderr when it is a terminal.

Examples:
  vhdx merge child.vhdx                  # child's data into its parent; child removed
  vhdx merge --keep snapshot.vhdx        # parent updated, snapshot.vhdx kept
  vhdx merge --json top.vhdx             # top into mid of base <- mid <- top`;

const OPTIONS = {
  keep: { type: "boolean" },
  json: { type: "boolean" },
} as const;

export const merge: Command = {
  name: "merge",
  summary: "merge a differencing disk into its parent (Merge-VHD); the child is removed unless --keep",
  help: HELP,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs("merge", args, OPTIONS, { min: 1, max: 1 });
    const child = resolve(io.cwd, positionals[0]!);
    // The bar is made at the first block, when the child's size is known.
    const shown: { bar: ReturnType<typeof tracker> | null } = { bar: null };
    let result: Awaited<ReturnType<typeof mergeVhdx>>;
    try {
      result = await mergeVhdx(child, {
        keep: values.keep === true,
        onProgress: ({ done, total }) => {
          shown.bar ??= tracker(io, "merge", total);
          shown.bar.update(done);
        },
      });
    } catch (error) {
      shown.bar?.abandon();
      throw error;
    }
    shown.bar?.finish();
    if (values.json) {
      writeJson(io, result);
    } else {
      const fate = result.childRemoved ? "removed" : "kept, relinked to the parent";
      writeLine(
        io.stdout,
        `merged ${positionals[0]!} into ${result.parent}: ${formatSize(result.bytesCopied)} of data, ${formatSize(result.bytesZeroed)} of zeros; ${positionals[0]!} ${fate}`,
      );
    }
    return EXIT_OK;
  },
};
