// vhdx read: a range of the virtual disk to stdout or to a (sparse) file.
// The copying itself is in ../copy.ts, shared with cat and convert.
import { resolve } from "node:path";
import { type Command, EXIT_OK, parseCommandArgs } from "../command.js";
import { checkRange, copyRange, copyToStream, finishFile, openSparseFile, refuseSameFile, refuseTerminal, tracker } from "../copy.js";
import { openDisk, parseFormat } from "../disk.js";
import { parseSize } from "../sizes.js";

const HELP = `Usage: vhdx read [-f vhdx|raw] [--offset N] [--length N] [-o OUT] FILE

Reads bytes of the virtual disk in FILE (a VHDX, a differencing chain read
through its parents, or a raw file) and writes them to stdout, or to OUT.
OUT is created or replaced; it is sparse where the disk reads as zeros.
Binary data is not written to a terminal: redirect stdout or use -o.

Options:
  -f, --format FORMAT   vhdx or raw (default: found from the file's signature)
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
} as const;

export const read: Command = {
  name: "read",
  summary: "read a range of the virtual disk",
  help: HELP,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs("read", args, OPTIONS, { min: 1, max: 1 });
    const format = parseFormat(values.format, "-f");
    const offset = values.offset === undefined ? 0 : parseSize(values.offset, "--offset");
    const length = values.length === undefined ? undefined : parseSize(values.length, "--length");
    const toStdout = values.output === undefined || values.output === "-";
    if (toStdout) refuseTerminal(io, "read");
    const disk = await openDisk(positionals[0]!, io.cwd, format);
    try {
      const count = length ?? Math.max(0, disk.size - offset);
      checkRange(disk, offset, count, "read");
      if (toStdout) return await copyToStream(disk, offset, count, io, "read");
      const out = resolve(io.cwd, values.output!);
      await refuseSameFile(out, disk, "read", "-o");
      const sink = await openSparseFile(out, true, offset);
      const bar = tracker(io, "read", count);
      try {
        await finishFile(sink, count, () => copyRange(disk, offset, count, sink, bar.update));
      } catch (error) {
        bar.abandon();
        throw error;
      }
      bar.finish();
      return EXIT_OK;
    } finally {
      await disk.close();
    }
  },
};
