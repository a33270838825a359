// vhdx compact: blocks that read as all zeros give their space back, and the
// file shrinks by moving blocks from its end into the holes and cutting it;
// every metadata change goes through the log, so a crash leaves a consistent
// image with the same contents.
import { resolve } from "node:path";
import type { CompactProgress, CompactResult } from "@vhdx/image";
import { compactVhdx } from "@vhdx/image/node";
import {
  CHAIN_OPTIONS,
  type Command,
  EXIT_OK,
  PROGRESS_OPTIONS,
  chainHelp,
  parseCommandArgs,
  progressHelp,
  withProgressChoice,
} from "../command.js";
import { type Interrupts, runInterruptible } from "../interrupt.js";
import { type CliIO, writeJson, writeLine } from "../io.js";
import { type Progress, progress } from "../progress.js";
import { formatSize } from "../sizes.js";

const HELP = `Usage: vhdx compact [-p|-q] [--confine-parents] [--json] FILE

Makes a dynamic or differencing image smaller on disk without changing what
it reads: every allocated block that reads as all zeros becomes unallocated
(it still reads zeros, also over a parent's data), then the blocks nearest the
end of the file move into the holes and the file is cut after the last one.
The changes go through the log, so an interruption leaves an image that reads
exactly as before. Fixed images are refused: their blocks keep their space.
A progress bar is shown on a terminal.

Ctrl-C, SIGTERM or SIGHUP stop it between two blocks: the image is closed
cleanly (consistent, reading as before, not yet cut), what was done is
printed on stderr, and the exit status is 128 + the signal's number (130 for
Ctrl-C); running vhdx compact again finishes the job.

Options:
  --json    print the counts and file sizes as JSON
${progressHelp(12)}
${chainHelp(12)}

Examples:
  vhdx compact disk.vhdx
  vhdx compact --json child.vhdx | jq .fileSizeAfter`;

export const compact: Command = {
  name: "compact",
  help: HELP,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(
      "compact",
      args,
      { json: { type: "boolean" }, ...PROGRESS_OPTIONS, ...CHAIN_OPTIONS },
      { min: 1, max: 1 },
    );
    io = withProgressChoice(io, values);
    const path = resolve(io.cwd, positionals[0]!);
    const allowParentOutsideTree = values["confine-parents"] !== true;
    return runInterruptible(io, async (interrupts) => {
      const result = await compactUntilStopped(path, io, interrupts, allowParentOutsideTree);
      printResult(io, path, result, values.json === true);
      return EXIT_OK;
    });
  },
};

/**
 * compactVhdx, stopped by a signal between two blocks: the progress callback,
 * called between blocks, throws there, and compactVhdx closes the image (its
 * changes so far committed through the log), which then reads as before.
 */
async function compactUntilStopped(
  path: string,
  io: CliIO,
  interrupts: Interrupts,
  allowParentOutsideTree: boolean,
): Promise<CompactResult> {
  const bars = progressBars(io);
  let last: CompactProgress | null = null;
  interrupts.report(
    () => `${stoppedAt(last)}; ${path} was closed, is consistent and reads as before; run vhdx compact again to finish`,
  );
  try {
    const result = await compactVhdx(path, {
      allowParentOutsideTree,
      onProgress: (step) => {
        last = step;
        bars.update(step);
        interrupts.signal.throwIfAborted();
      },
    });
    interrupts.report(() => `the compaction had finished: ${summary(result)}`);
    return result;
  } finally {
    bars.finish();
  }
}

function stoppedAt(step: CompactProgress | null): string {
  if (step === null) return "stopped before compacting";
  if (step.phase === "zero")
    return `stopped after looking at ${step.done} of ${step.total} blocks for zeros (the all-zero ones found were freed)`;
  return `stopped after freeing the all-zero blocks and moving ${step.done} of ${step.total} blocks; the file was not cut yet`;
}

function printResult(io: CliIO, path: string, result: CompactResult, json: boolean): void {
  if (json) writeJson(io, { file: path, ...result });
  else writeLine(io.stdout, `compacted ${path}: ${summary(result)}`);
}

function summary({ zeroedBlocks, movedBlocks, fileSizeBefore, fileSizeAfter }: CompactResult): string {
  const blocks = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;
  return `${blocks(zeroedBlocks, "zero block")} freed, ${blocks(movedBlocks, "block")} moved, ${formatSize(fileSizeBefore)} → ${formatSize(fileSizeAfter)}`;
}

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
