// vhdx resize: grow a fixed or dynamic image, or shrink it when the part cut
// off holds no data (or with --force), or to the end of its last partition
// (--to-minimum).
import { resolve } from "node:path";
import { VhdxError } from "@vhdx/image";
import { openVhdx, resizeVhdx, resizeVhdxToMinimum } from "@vhdx/image/node";
import { type Command, EXIT_OK, parseCommandArgs } from "../command.js";
import { announceOnSignal, runInterruptible } from "../interrupt.js";
import { type CliIO, writeJson, writeLine } from "../io.js";
import { formatSize, parseSize } from "../sizes.js";

const HELP = `Usage: vhdx resize [--force] [--json] FILE [+|-]SIZE
       vhdx resize --to-minimum [--force] [--json] FILE

Changes the virtual size of a fixed or dynamic image: to SIZE, or by SIZE
with a leading + or -. Growing keeps every byte and reads zeros in the new
part; a fixed image gets the new blocks allocated; the BAT moves to a larger
region at the end of the file when it must. Shrinking refuses when the part
cut off holds data, unless --force. The change goes through the log, so a
crash leaves the old or the new size. A differencing image takes its size
from its parent and cannot be resized. Ctrl-C, SIGTERM or SIGHUP let the
resize finish (it takes moments), then end vhdx resize with exit status
128 + the signal's number.

--to-minimum shrinks to the end of the last partition, rounded up to a MiB,
as Resize-VHD -ToMinimumSize does; an image with no partition table (no MBR,
no GPT, e.g. a WSL ext4.vhdx) is refused. A GPT disk keeps room for its
backup GPT (33 sectors of 512 bytes, 5 of 4096), which moves to the new end:
the primary header and the protective MBR are pointed at it, a change of the
partition table (written and flushed before the resize). Data past the last
partition outside the old backup GPT is refused unless --force. Partitions
are not shrunk: shrink the file system and its partition first.

Options:
  --to-minimum   shrink to the end of the last partition (rounded up to a MiB)
  --force        shrink even if data past the new end is lost
  --json         print the old and new sizes as JSON

Examples:
  vhdx resize disk.vhdx 128G
  vhdx resize disk.vhdx +10G
  vhdx resize --force disk.vhdx -1G
  vhdx resize --to-minimum disk.vhdx`;

export const resize: Command = {
  name: "resize",
  help: HELP,
  async run(args, io) {
    const options = {
      force: { type: "boolean" },
      "to-minimum": { type: "boolean" },
      json: { type: "boolean" },
    } as const;
    // Like qemu-img: take a "-1G" size out before option parsing sees it as an option.
    const last = args[args.length - 1];
    const shrinkBy = last !== undefined && /^-\d/.test(last) ? last : undefined;
    const rest = shrinkBy === undefined ? args : args.slice(0, -1);
    const { values, positionals } = parseCommandArgs(
      "resize",
      rest,
      options,
      shrinkBy === undefined && !args.includes("--to-minimum") ? { min: 2, max: 2 } : { min: 1, max: 1 },
    );
    const path = resolve(io.cwd, positionals[0]!);
    if (values["to-minimum"]) return toMinimum(path, values.force === true, values.json === true, io);
    const newSize = await targetSize(path, shrinkBy ?? positionals[1]!);
    return runInterruptible(io, async (interrupts) => {
      // A resize is a few log entries, over in moments: a signal lets it finish.
      announceOnSignal(io, interrupts, "finishing the resize first");
      const result = await resizeVhdx(path, newSize, { force: values.force ?? false });
      const summary = `${formatSize(result.oldSize)} -> ${formatSize(result.newSize)}${result.batMoved ? " (the BAT moved to a larger region)" : ""}`;
      interrupts.report(() => `the resize was finished first: ${path} ${summary}`);
      interrupts.signal.throwIfAborted();
      if (values.json) writeJson(io, { file: path, ...result });
      else writeLine(io.stdout, `resized ${path}: ${summary}`);
      return EXIT_OK;
    });
  },
};

async function targetSize(path: string, text: string): Promise<number> {
  const sign = text[0] === "+" ? 1 : text[0] === "-" ? -1 : 0;
  const amount = parseSize(sign === 0 ? text : text.slice(1), "SIZE");
  if (sign === 0) return amount;
  const image = await openVhdx(path);
  const current = image.virtualSize;
  await image.close();
  const size = current + sign * amount;
  if (size <= 0) throw new VhdxError("INVALID_ARGUMENT", `${text} from ${current} bytes leaves no disk`);
  return size;
}

/** --to-minimum: the size comes from the partition table. */
function toMinimum(path: string, force: boolean, json: boolean, io: CliIO): Promise<number> {
  return runInterruptible(io, async (interrupts) => {
    announceOnSignal(io, interrupts, "finishing the resize first");
    const result = await resizeVhdxToMinimum(path, { force });
    const { minimum, ...sizes } = result;
    const summary =
      sizes.newSize === sizes.oldSize
        ? `already at its minimum, ${formatSize(sizes.oldSize)} (the last partition ends at ${minimum.partitionsEnd})`
        : `${formatSize(sizes.oldSize)} -> ${formatSize(sizes.newSize)} (the last partition ends at ${minimum.partitionsEnd}${minimum.scheme === "gpt" ? "; the backup GPT moved to the new end" : ""})`;
    interrupts.report(() => `the resize was finished first: ${path} ${summary}`);
    interrupts.signal.throwIfAborted();
    if (json) writeJson(io, { file: path, ...sizes, scheme: minimum.scheme, partitionsEnd: minimum.partitionsEnd });
    else writeLine(io.stdout, `resized ${path}: ${summary}`);
    return EXIT_OK;
  });
}
