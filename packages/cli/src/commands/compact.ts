// vhdx compact: blocks that read as all zeros give their space back, and the
// file shrinks by moving blocks from its end into the holes and cutting it;
// every metadata change goes through the log, so a crash leaves a consistent
// image with the same contents.
import { resolve } from "node:path";
import { compactVhdx } from "@vhdx/image/node";
import { type Command, EXIT_OK, parseCommandArgs } from "../command.js";
import { type CliIO, writeJson, writeLine } from "../io.js";
import { type Progress, progress } from "../progress.js";
import { formatSize } from "../sizes.js";

const HELP = `Usage: vhdx compact [--json] FILE

Makes a dynamic or differencing image smaller on disk without changing what
it reads: every allocated block that reads as all zeros becomes unallocated
(it still reads zeros, also over a parent's data), then the blocks nearest the
end of the file move into the holes and the file is cut after the last one.
The changes go through the log, so an interruption leaves an image that reads
exactly as before. Fixed images are refused: their blocks keep their space.
A progress bar is shown on a terminal.

Options:
  --json    print the counts and file sizes as JSON

Examples:
  vhdx compact disk.vhdx
  vhdx compact --json child.vhdx | jq .fileSizeAfter`;

export const compact: Command = {
  name: "compact",
  summary: "free all-zero blocks and shrink the file",
  help: HELP,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs("compact", args, { json: { type: "boolean" } }, { min: 1, max: 1 });
    const path = resolve(io.cwd, positionals[0]!);
    const bars = progressBars(io);
    let result;
    try {
      result = await compactVhdx(path, { onProgress: bars.update });
    } finally {
      bars.finish();
    }
    if (values.json) writeJson(io, { file: path, ...result });
    else {
      const { zeroedBlocks, movedBlocks, fileSizeBefore, fileSizeAfter } = result;
      const blocks = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;
      writeLine(
        io.stdout,
        `compacted ${path}: ${blocks(zeroedBlocks, "zero block")} freed, ${blocks(movedBlocks, "block")} moved, ${formatSize(fileSizeBefore)} → ${formatSize(fileSizeAfter)}`,
      );
    }
    return EXIT_OK;
  },
};

/** One bar per phase: scanning the blocks for zeros, then moving blocks. */
function progressBars(io: CliIO) {
  let phase: string | null = null;
  let bar: Progress | null = null;
  return {
    update(p: { phase: "zero" | "move"; done: number; total: number }) {
      if (p.phase !== phase) {
        bar?.finish();
        phase = p.phase;
        bar = progress(io, p.phase === "zero" ? "Finding zero blocks" : "Moving blocks", p.total);
      }
      bar?.update(p.done);
    },
    finish() {
      bar?.finish();
      bar = null;
    },
  };
}
