// vhdx write: the bytes of a file or of stdin into a VHDX virtual disk at an
// offset, or (--zero) zeros over a range. The image is opened read-write,
// written a piece at a time, and closed, which flushes it: nothing is printed
// unless --json asks.
import { type Stats, createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { resolve } from "node:path";
import { type VhdxImage, VhdxError } from "@vhdx/image";
import {
  chainHelp,
  CHAIN_OPTIONS,
  type Command,
  EXIT_OK,
  progressHelp,
  PROGRESS_OPTIONS,
  imageAccess,
  parseCommandArgs,
  usageError,
  withProgressChoice,
} from "../command.js";
import { openImageFile } from "../disk.js";
import { type Interrupts, announceOnSignal, runInterruptible } from "../interrupt.js";
import { type CliIO, writeJson } from "../io.js";
import { formatSize, parseSize } from "../sizes.js";
import { PIECE } from "../copy.js";
import { tracker } from "../progress.js";
import { isAllZero } from "../zero-scan.js";

const HELP = `Usage: vhdx write --offset N [-p|-q] [--confine-parents] [--json] FILE INPUT
       vhdx write --zero --offset N --length N [--confine-parents] [--json] FILE

Writes the bytes of INPUT (a file, or - for stdin) into the virtual disk of
the VHDX image FILE from byte N on, then closes FILE, which makes the write
durable. The data must fit: an INPUT file that would reach past the end of the
disk is refused before anything is written; from stdin the write stops with an
error at the first 8 MiB piece that does not fit, and what came before stays
written. Pieces that are all zeros are written as zeros without allocating
space where the disk allows it. A differencing disk takes the data itself;
its parents are not changed. Prints nothing on success unless --json.

With --zero, the range of --length bytes from --offset reads as zeros
afterwards, in a differencing disk too (not from the parent): whole blocks
become zero blocks without space, parts of blocks are written with zeros (in
a fixed image every byte is). To free space instead, see vhdx discard.

Interrupted (Ctrl-C, SIGTERM, SIGHUP), vhdx write stops reading INPUT, writes
what it has read, closes FILE (consistent, holding every byte it says it
wrote), prints on stderr how many bytes were written, and exits with 128 + the
signal's number (130 for Ctrl-C). A second signal ends it at once; FILE is
then left as after a crash, which its log repairs at the next open.

FILE is locked for writing while it is open: if another program (another
vhdx, qemu-img, qemu-io, a running VM) has it open, vhdx write refuses with
LOCKED instead of waiting or writing beside it.

Options:
  --offset N   where on the virtual disk to write (required); suffixes: 512, 4K, 1M, 2G
  --zero       write zeros over --length bytes instead of INPUT
  --length N   with --zero: how many bytes
  --json       print what was written as JSON
${progressHelp(15)}
${chainHelp(15)}

Examples:
  vhdx write disk.vhdx --offset 0 mbr.bin
  vhdx write disk.vhdx --offset 1M partition.img
  printf 'hello' | vhdx write disk.vhdx --offset 4K -
  vhdx write --zero disk.vhdx --offset 0 --length 1M`;

const OPTIONS = {
  offset: { type: "string" },
  zero: { type: "boolean" },
  length: { type: "string" },
  json: { type: "boolean" },
  ...PROGRESS_OPTIONS,
  ...CHAIN_OPTIONS,
} as const;

export const write: Command = {
  name: "write",
  help: HELP,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs("write", args, OPTIONS, { min: 1, max: 2 });
    const zero = values.zero === true;
    if (positionals.length !== (zero ? 1 : 2)) {
      const wanted = zero ? "FILE alone with --zero" : "FILE and INPUT";
      throw usageError("write", `expects ${wanted}, got ${positionals.length} operand(s); see vhdx write --help`);
    }
    io = withProgressChoice(io, values);
    if (values.offset === undefined)
      throw usageError("write", "give the --offset to write at (e.g. --offset 0 or --offset 1M)");
    const offset = parseSize(values.offset, "--offset");
    const path = resolve(io.cwd, positionals[0]!);
    if (zero) return writeZeros(path, offset, values, io);
    if (values.length !== undefined) throw usageError("write", "--length goes with --zero; INPUT's size is the length");
    const input = positionals[1]! === "-" ? null : resolve(io.cwd, positionals[1]!);
    const inputSize = input === null ? null : await regularFileSize(input);
    return runInterruptible(io, async (interrupts) => {
      interrupts.report(() => `nothing was written to ${path}`);
      const image = await openImageFile(path, io, imageAccess(values), { readOnly: false });
      const written = await writeInput(image, path, offset, input, inputSize, io, interrupts);
      interrupts.signal.throwIfAborted();
      if (values.json) writeJson(io, { file: path, input: input ?? "-", offset, length: written });
      return EXIT_OK;
    });
  },
};

/** --zero: the range reads as zeros afterwards; the image is closed (also on failure). */
async function writeZeros(
  path: string,
  offset: number,
  values: { length?: string; json?: boolean; "confine-parents"?: boolean },
  io: CliIO,
): Promise<number> {
  if (values.length === undefined) throw usageError("write", "--zero needs --length N (e.g. --length 1M)");
  const length = parseSize(values.length, "--length");
  return runInterruptible(io, async (interrupts) => {
    announceOnSignal(io, interrupts, "finishing the zero write first");
    const image = await openImageFile(path, io, imageAccess(values), { readOnly: false });
    try {
      await image.writeZeroes(offset, length);
    } finally {
      await image.close();
    }
    interrupts.signal.throwIfAborted();
    if (values.json) writeJson(io, { file: path, input: null, zero: true, offset, length });
    return EXIT_OK;
  });
}

/**
 * Writes INPUT into the image at `offset` and closes it (also on failure);
 * returns the bytes written. A signal stops the reading: what was read is
 * written, the image is closed, and the report says how much.
 */
async function writeInput(
  image: VhdxImage,
  path: string,
  offset: number,
  input: string | null,
  inputSize: number | null,
  io: CliIO,
  interrupts: Interrupts,
): Promise<number> {
  let written = 0;
  try {
    if (offset > image.virtualSize) {
      throw new VhdxError(
        "OUT_OF_RANGE",
        `offset ${offset} is past the end of the virtual disk (${image.virtualSize} bytes): ${path}`,
      );
    }
    if (inputSize !== null && offset + inputSize > image.virtualSize) {
      throw new VhdxError(
        "OUT_OF_RANGE",
        `write of ${inputSize} bytes at offset ${offset} ends past the end of the virtual disk (${image.virtualSize} bytes): ${path}`,
      );
    }
    const bar = tracker(io, "write", inputSize ?? 0);
    const chunks = input === null ? io.stdin : createReadStream(input, { highWaterMark: PIECE });
    const done = (bytes: number) => {
      written = bytes;
      bar.update(bytes);
    };
    try {
      await writeChunks(image, offset, untilStopped(chunks, interrupts.signal), done);
    } catch (error) {
      bar.abandon();
      throw error;
    }
    if (interrupts.signal.aborted) bar.abandon();
    else bar.finish();
  } finally {
    interrupts.report(() => stoppedWriting(path, offset, written, inputSize));
    await image.close();
  }
  return written;
}

function stoppedWriting(path: string, offset: number, written: number, inputSize: number | null): string {
  const of = inputSize === null ? "" : ` of ${inputSize} (${formatSize(inputSize)})`;
  return `wrote ${written} bytes (${formatSize(written)})${of} of the input at offset ${offset}, the rest was not written; ${path} was closed and is consistent`;
}

/**
 * The chunks of `chunks` until `stop` aborts: the chunk being waited for is
 * then given up, and the input closed. A chunk already taken is the caller's
 * to finish.
 */
async function* untilStopped<T>(chunks: AsyncIterable<T>, stop: AbortSignal): AsyncGenerator<T> {
  const iterator = chunks[Symbol.asyncIterator]();
  const stopped = new Promise<null>((resolve) => {
    if (stop.aborted) resolve(null);
    else stop.addEventListener("abort", () => resolve(null), { once: true });
  });
  try {
    while (!stop.aborted) {
      const next = await Promise.race([iterator.next(), stopped]);
      if (next === null || next.done === true) return;
      yield next.value;
    }
  } finally {
    if (stop.aborted) void iterator.return?.()?.catch(() => undefined);
  }
}

/** The size of a regular file (so it can be checked before writing), null for a pipe or a device. */
async function regularFileSize(path: string): Promise<number | null> {
  let info: Stats;
  try {
    info = await stat(path);
  } catch (cause) {
    throw new VhdxError("IO_ERROR", `cannot read ${path}: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    });
  }
  if (info.isDirectory()) throw new VhdxError("IO_ERROR", `cannot read ${path}: it is a folder`);
  return info.isFile() ? info.size : null;
}

/**
 * Gathers the input into pieces of PIECE bytes and writes each at its place;
 * a piece of zeros becomes writeZeroes (no space allocated for whole blocks).
 * Returns the bytes written.
 */
async function writeChunks(
  image: VhdxImage,
  offset: number,
  chunks: AsyncIterable<unknown>,
  done: (bytes: number) => void,
): Promise<number> {
  const piece = new Uint8Array(PIECE);
  let fill = 0;
  let at = offset;
  const flush = async () => {
    if (fill === 0) return;
    if (at + fill > image.virtualSize) {
      throw new VhdxError(
        "OUT_OF_RANGE",
        `the input reaches past the end of the virtual disk (${image.virtualSize} bytes); ` +
          `the ${at - offset} bytes before offset ${at} were written, the rest was not`,
      );
    }
    const bytes = piece.subarray(0, fill);
    if (isAllZero(bytes)) await image.writeZeroes(at, fill);
    else await image.write(at, bytes);
    at += fill;
    fill = 0;
    done(at - offset);
  };
  try {
    for await (const chunk of chunks) {
      const bytes = typeof chunk === "string" ? new TextEncoder().encode(chunk) : (chunk as Uint8Array);
      for (let used = 0; used < bytes.length; ) {
        const count = Math.min(PIECE - fill, bytes.length - used);
        piece.set(bytes.subarray(used, used + count), fill);
        fill += count;
        used += count;
        if (fill === PIECE) await flush();
      }
    }
  } catch (cause) {
    if (VhdxError.isInstance(cause)) throw cause;
    throw new VhdxError(
      "IO_ERROR",
      `cannot read the input: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
  }
  await flush();
  return at - offset;
}
