// vhdx discard: a range of the virtual disk is no longer needed. Whole blocks
// give up their space (UNMAPPED, or NOT_PRESENT in a differencing image);
// parts of blocks are written as zeros unless --keep-partial. Reports what
// was freed; `vhdx compact` then gives the space back to the file system.
import { resolve } from "node:path";
import type { DiscardResult } from "@vhdx/image";
import {
  CHAIN_OPTIONS,
  type Command,
  EXIT_OK,
  chainHelp,
  imageAccess,
  parseCommandArgs,
  usageError,
} from "../command.js";
import { openImageFile } from "../disk.js";
import { announceOnSignal, runInterruptible } from "../interrupt.js";
import { writeJson, writeLine } from "../io.js";
import { formatSize, parseSize } from "../sizes.js";

const HELP = `Usage: vhdx discard --offset N --length N [--keep-partial] [--confine-parents]
                    [--json] FILE

Tells the image FILE that bytes N to N + length of its virtual disk are no
longer needed (like a TRIM or UNMAP from a guest). Whole blocks in the range
give up their space: in a dynamic image they become unmapped and read as
zeros; in a differencing image they become not present, their sector bitmap
bits cleared, and read from the parent again. The parts of blocks at the
ends of the range (and the whole range of a fixed image, whose blocks keep
their space) are written as zeros, so the range reads as zeros afterwards,
unless --keep-partial leaves them as they are. Either way the report says
how many bytes were freed, zeroed and kept.

Discarding makes the file no smaller by itself: the freed blocks leave holes
that "vhdx compact FILE" gives back. The changes go through the log, so a
crash leaves the range as before or as after, block by block. Ctrl-C, SIGTERM
or SIGHUP let the discard finish, then end it with 128 + the signal's number.
To make a range read as zeros in a differencing image too (not from the
parent), use "vhdx write --zero".

Options:
  --offset N       where the range starts (required); suffixes: 512, 4K, 1M, 2G
  --length N       how many bytes (required)
  --keep-partial   leave parts of blocks (and a fixed image) as they are
  --json           print the counts as JSON
${chainHelp(17)}

Examples:
  vhdx discard disk.vhdx --offset 1G --length 4G
  vhdx discard --json disk.vhdx --offset 0 --length 64M
  vhdx discard disk.vhdx --offset 100M --length 1G && vhdx compact disk.vhdx`;

const OPTIONS = {
  offset: { type: "string" },
  length: { type: "string" },
  "keep-partial": { type: "boolean" },
  json: { type: "boolean" },
  ...CHAIN_OPTIONS,
} as const;

export const discard: Command = {
  name: "discard",
  help: HELP,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs("discard", args, OPTIONS, { min: 1, max: 1 });
    if (values.offset === undefined || values.length === undefined)
      throw usageError("discard", "give the range: --offset N --length N (e.g. --offset 1G --length 4G)");
    const offset = parseSize(values.offset, "--offset");
    const length = parseSize(values.length, "--length");
    const path = resolve(io.cwd, positionals[0]!);
    const partial = values["keep-partial"] ? "keep" : "zero";
    return runInterruptible(io, async (interrupts) => {
      announceOnSignal(io, interrupts, "finishing the discard first");
      const image = await openImageFile(path, io, imageAccess(values), { readOnly: false });
      let result: DiscardResult;
      try {
        result = await image.discard(offset, length, { partial });
      } finally {
        await image.close();
      }
      interrupts.report(() => `the discard was finished first: ${summary(result)}`);
      interrupts.signal.throwIfAborted();
      if (values.json) writeJson(io, { file: path, offset, length, ...result });
      else writeLine(io.stdout, `discarded ${formatSize(length)} at ${offset} of ${path}: ${summary(result)}`);
      return EXIT_OK;
    });
  },
};

function summary({ freedBytes, zeroedBytes, keptBytes }: DiscardResult): string {
  const parts = [`${formatSize(freedBytes)} freed`];
  if (zeroedBytes > 0) parts.push(`${formatSize(zeroedBytes)} written as zeros`);
  if (keptBytes > 0) parts.push(`${formatSize(keptBytes)} kept (parts of blocks, or a fixed image)`);
  if (freedBytes > 0) parts.push("run vhdx compact to give the space back");
  return parts.join(", ");
}
