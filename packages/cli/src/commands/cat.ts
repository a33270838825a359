// vhdx cat: the whole virtual disk to stdout, as a raw image. Blocks that
// read as zeros are written from a buffer of zeros without being read; a
// reader that goes away (`| head -c 10`) ends it quietly with status 0.
import { type Command, parseCommandArgs } from "../command.js";
import { openDisk, parseFormat } from "../disk.js";
import { copyToStream, refuseTerminal } from "../copy.js";

const HELP = `Usage: vhdx cat [-f vhdx|raw] FILE

Writes the whole virtual disk in FILE to stdout: every byte, zeros included,
as a raw image. A differencing disk is read through its parents. Binary data
is not written to a terminal: redirect stdout or pipe it. For a sparse raw
file, vhdx convert -O raw is faster; for a part of the disk, see vhdx read.

Options:
  -f, --format FORMAT   vhdx or raw (default: found from the file's signature)

Examples:
  vhdx cat disk.vhdx > disk.raw
  vhdx cat disk.vhdx | sha256sum
  vhdx cat disk.vhdx | ssh backup 'cat > disk.raw'`;

const OPTIONS = {
  format: { type: "string", short: "f" },
} as const;

export const cat: Command = {
  name: "cat",
  summary: "write the whole virtual disk to stdout",
  help: HELP,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs("cat", args, OPTIONS, { min: 1, max: 1 });
    const format = parseFormat(values.format, "-f");
    refuseTerminal(io, "cat");
    const disk = await openDisk(positionals[0]!, io.cwd, format);
    try {
      return await copyToStream(disk, 0, disk.size, io, "cat");
    } finally {
      await disk.close();
    }
  },
};
