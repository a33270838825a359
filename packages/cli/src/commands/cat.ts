// vhdx cat: the whole virtual disk to stdout, as a raw image, or with -o to
// a sparse file made all or nothing (as read -o makes it). A VHDX's data
// stretches are read through image.stream(); blocks that read as zeros are
// written from a buffer of zeros without being read; a reader that goes away
// (`| head -c 10`) ends it quietly with status 0. With --salvage, blocks
// that cannot be trusted read as zeros and are listed (../salvage.ts).
import { resolve } from "node:path";
import {
  type Command,
  EXIT_OK,
  progressHelp,
  PROGRESS_OPTIONS,
  readAccessHelp,
  READ_ACCESS_OPTIONS,
  parseCommandArgs,
  withProgressChoice,
} from "../command.js";
import { openDisk, parseFormat } from "../disk.js";
import { copyToFileShown, copyToStream } from "../copy.js";
import { refuseTerminal } from "../guards.js";
import { runInterruptible } from "../interrupt.js";
import { SALVAGE_OPTIONS, salvageAccess, salvageStatus } from "../salvage.js";

const HELP = `Usage: vhdx cat [-f vhdx|raw] [--salvage] [-o OUT] FILE

Writes the whole virtual disk in FILE to stdout: every byte, zeros included,
as a raw image. A differencing disk is read through its parents. Binary data
is not written to a terminal: redirect stdout or pipe it, or give -o. For a
part of the disk, see vhdx read.

With -o, the disk goes to the file OUT instead, created or replaced, sparse
where the disk reads as zeros. It is written as OUT.partial-<pid>-<random> in
OUT's folder and renamed to OUT when complete: if cat fails or is interrupted
(Ctrl-C, SIGTERM, SIGHUP), that file is removed, OUT is left as it was, and
the exit status is 2 (an error) or 128 + the signal's number (130 for Ctrl-C).

A damaged VHDX stops cat at the first block it cannot trust (exit status 2).
With --salvage, such a block reads as zeros and cat goes on: a BAT entry with
a bad state, or pointing past the end of the file, into the header section,
over the log, metadata or BAT, or over another block; a partially present
block whose sector bitmap block is missing or unreadable; a block whose read
fails (only the part that fails). Each range read as zeros is one line on
stderr, with its virtual offsets, the BAT entry, the file offset and the
error, and the exit status is then 3: the output is whole but incomplete.

Options:
  -f, --format FORMAT   vhdx or raw (default: found from the file's signature)
${readAccessHelp(24)}
${progressHelp(24)}
  -o, --output OUT      write to the file OUT instead of stdout (a regular file)
  --salvage             read blocks that cannot be trusted or read as zeros,
                        list them on stderr, and exit with status 3

Examples:
  vhdx cat disk.vhdx > disk.raw
  vhdx cat -o disk.raw disk.vhdx
  vhdx cat disk.vhdx | sha256sum
  vhdx cat disk.vhdx | ssh backup 'cat > disk.raw'
  vhdx cat --salvage -o rescued.raw damaged.vhdx   # what can be read; exit status 3 if not all`;

const OPTIONS = {
  format: { type: "string", short: "f" },
  output: { type: "string", short: "o" },
  ...READ_ACCESS_OPTIONS,
  ...PROGRESS_OPTIONS,
  ...SALVAGE_OPTIONS,
} as const;

export const cat: Command = {
  name: "cat",
  help: HELP,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs("cat", args, OPTIONS, { min: 1, max: 1 });
    io = withProgressChoice(io, values);
    const format = parseFormat(values.format, "-f");
    const toStdout = values.output === undefined || values.output === "-";
    if (toStdout) refuseTerminal(io, "cat");
    const disk = await openDisk(positionals[0]!, io, format, salvageAccess(values));
    try {
      if (toStdout) {
        const status = await copyToStream(disk, 0, disk.size, io, "cat", "stream");
        return status === EXIT_OK ? salvageStatus(io, "cat", disk) : status;
      }
      const out = resolve(io.cwd, values.output!);
      return await runInterruptible(io, async (interrupts) => {
        await copyToFileShown(io, disk, 0, disk.size, out, {
          replace: true,
          interrupts,
          command: "cat",
          label: "-o",
          via: "stream",
        });
        return salvageStatus(io, "cat", disk);
      });
    } finally {
      await disk.close();
    }
  },
};
