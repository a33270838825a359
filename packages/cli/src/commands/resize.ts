// vhdx resize: grow a fixed or dynamic image, or shrink it when the part cut
// off holds no data (or with --force).
import { resolve } from "node:path";
import { VhdxError } from "@vhdx/image";
import { openVhdx, resizeVhdx } from "@vhdx/image/node";
import { type Command, EXIT_OK, parseCommandArgs } from "../command.js";
import { announceOnSignal, runInterruptible } from "../interrupt.js";
import { writeJson, writeLine } from "../io.js";
import { formatSize, parseSize } from "../sizes.js";

const HELP = `Usage: vhdx resize [--force] [--json] FILE [+|-]SIZE

Changes the virtual size of a fixed or dynamic image: to SIZE, or by SIZE
with a leading + or -. Growing keeps every byte and reads zeros in the new
part; a fixed image gets the new blocks allocated; the BAT moves to a larger
region at the end of the file when it must. Shrinking refuses when the part
cut off holds data, unless --force. The change goes through the log, so a
crash leaves the old or the new size. A differencing image takes its size
from its parent and cannot be resized. Ctrl-C, SIGTERM or SIGHUP let the
resize finish (it takes moments), then end vhdx resize with exit status
128 + the signal's number.

Options:
  --force   shrink even if data past the new end is lost
  --json    print the old and new sizes as JSON

Examples:
  vhdx resize disk.vhdx 128G
  vhdx resize disk.vhdx +10G
  vhdx resize --force disk.vhdx -1G`;

export const resize: Command = {
  name: "resize",
  help: HELP,
  async run(args, io) {
    const options = { force: { type: "boolean" }, json: { type: "boolean" } } as const;
    // Like qemu-img: take a "-1G" size out before option parsing sees it as an option.
    const last = args[args.length - 1];
    const shrinkBy = last !== undefined && /^-\d/.test(last) ? last : undefined;
    const rest = shrinkBy === undefined ? args : args.slice(0, -1);
    const { values, positionals } = parseCommandArgs(
      "resize",
      rest,
      options,
      shrinkBy === undefined ? { min: 2, max: 2 } : { min: 1, max: 1 },
    );
    const path = resolve(io.cwd, positionals[0]!);
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
