// vhdx read: a range of the virtual disk to stdout or to a (sparse) file.
// The copying itself is in ../copy.ts, shared with cat and convert.
import { resolve } from "node:path";
import {
  type Command,
  EXIT_OK,
  progressHelp,
  PROGRESS_OPTIONS,
  readAccessHelp,
  READ_ACCESS_OPTIONS,
  imageAccess,
  parseCommandArgs,
  withProgressChoice,
} from "../command.js";
import { copyToFileShown, copyToStream } from "../copy.js";
import { checkRange, refuseTerminal } from "../guards.js";
import { openDisk, parseFormat } from "../disk.js";
import { runInterruptible } from "../interrupt.js";
import { parseSize } from "../sizes.js";

const HELP = `Usage: vhdx read [-f vhdx|raw] [--offset N] [--length N] [-o OUT] FILE

Reads bytes of the virtual disk in FILE (a VHDX, a differencing chain read
through its parents, or a raw file) and writes them to stdout, or to OUT.
Binary data is not written to a terminal: redirect stdout or use -o.

OUT is created or replaced; it is sparse where the disk reads as zeros. It
is written as OUT.partial-<pid>-<random> in OUT's folder and renamed to OUT
when complete: if the read fails or is interrupted (Ctrl-C, SIGTERM, SIGHUP),
that file is removed, OUT is left as it was, and the exit status is 2 (an
error) or 128 + the signal's number (130 for Ctrl-C). OUT must be a file; for
a device or a pipe, redirect stdout.

Options:
  -f, --format FORMAT   vhdx or raw (default: found from the file's signature)
${readAccessHelp(24)}
${progressHelp(24)}
  --offset N            where to start (default 0); takes suffixes: 512, 4K, 1M, 2G
  --length N            how many bytes (default: up to the end of the disk)
  -o, --output OUT      write to the file OUT instead of stdout

Examples:
  vhdx read disk.vhdx --length 512 | xxd | head        # the MBR
  vhdx read disk.vhdx --offset 1M --length 64M -o part.raw
  vhdx read -f raw flat.img --offset 4K --length 4K > sector.bin`;

const OPTIONS = {
  format: { type: "string", short: "f" },
  offset: { type: "string" },
  length: { type: "string" },
  output: { type: "string", short: "o" },
  ...READ_ACCESS_OPTIONS,
  ...PROGRESS_OPTIONS,
} as const;

export const read: Command = {
  name: "read",
  help: HELP,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs("read", args, OPTIONS, { min: 1, max: 1 });
    io = withProgressChoice(io, values);
    const format = parseFormat(values.format, "-f");
    const offset = values.offset === undefined ? 0 : parseSize(values.offset, "--offset");
    const length = values.length === undefined ? undefined : parseSize(values.length, "--length");
    const toStdout = values.output === undefined || values.output === "-";
    if (toStdout) refuseTerminal(io, "read");
    const disk = await openDisk(positionals[0]!, io, format, imageAccess(values));
    try {
      const count = length ?? Math.max(0, disk.size - offset);
      checkRange(disk, offset, count, "read");
      if (toStdout) return await copyToStream(disk, offset, count, io, "read");
      const out = resolve(io.cwd, values.output!);
      return await runInterruptible(io, async (interrupts) => {
        await copyToFileShown(io, disk, offset, count, out, {
          replace: true,
          interrupts,
          command: "read",
          label: "-o",
        });
        return EXIT_OK;
      });
    } finally {
      await disk.close();
    }
  },
};
