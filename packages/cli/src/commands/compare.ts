// vhdx compare: are two virtual disks (VHDX or raw) equal byte for byte?
// Answers like `qemu-img compare`: "Images are identical." (exit 0) or
// "Content mismatch at offset N!" (exit 1) with N the first differing
// 512-byte sector. Disks of different sizes are equal when the common part is
// and the rest of the larger one reads as zeros (unless --strict). Streamed in
// 1 MiB pieces; ranges both disks' extents say read as zeros are not read.
import type { DiskExtent } from "@vhdx/image";
import type { FileStretch } from "@vhdx/image/node";
import {
  type Command,
  EXIT_NO,
  EXIT_OK,
  PROGRESS_OPTIONS,
  readAccessHelp,
  READ_ACCESS_OPTIONS,
  imageAccess,
  parseCommandArgs,
  withProgressChoice,
} from "../command.js";
import { type Disk, openDisk, parseFormat } from "../disk.js";
import { type CliIO, writeJson, writeLine } from "../io.js";
import { progress } from "../progress.js";

const HELP = `Usage: vhdx compare [-f FORMAT] [-F FORMAT] [-s] [-q] [-p] [-U] [--confine-parents] [--json] A B

Compares the virtual disks of A and B, each a VHDX image or a raw disk file
(detected from the first bytes, where other image formats such as qcow2 or
VHD are refused; -f and -F force the format of A and B), and
prints the first difference like qemu-img compare: the offset of the first
512-byte sector that differs.

Disks of different sizes compare equal when the common part is equal and the
rest of the larger disk reads as zeros ("Warning: Image size mismatch!"
is printed); with --strict they differ.

Ranges that both disks' BATs say read as zeros are skipped without reading.

Options:
  -f FORMAT     format of A: vhdx or raw
  -F FORMAT     format of B: vhdx or raw
  -s, --strict  different sizes make the disks differ
  -q, --quiet   print nothing; the exit status answers
  -p, --progress  show progress even when stderr is not a terminal
${readAccessHelp(16)}
  --json        {identical, mismatchOffset, sizeMismatch, sizes, formats}

Exit status: 0 identical, 1 different, 2 error (a file missing or unreadable).

Examples:
  vhdx compare disk.vhdx disk.raw
  vhdx compare -s before.vhdx after.vhdx`;

/** Bytes compared at a time. */
const PIECE = 1 << 20;
const SECTOR = 512;

export const compare: Command = {
  name: "compare",
  help: HELP,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(
      "compare",
      args,
      {
        format: { type: "string", short: "f" },
        "format-b": { type: "string", short: "F" },
        strict: { type: "boolean", short: "s" },
        json: { type: "boolean" },
        ...READ_ACCESS_OPTIONS,
        ...PROGRESS_OPTIONS,
      },
      { min: 2, max: 2 },
    );
    io = withProgressChoice(io, values);
    const access = imageAccess(values);
    const a = await openDisk(positionals[0]!, io, parseFormat(values.format, "-f"), access);
    let b: Disk;
    try {
      b = await openDisk(positionals[1]!, io, parseFormat(values["format-b"], "-F"), access);
    } catch (error) {
      await a.close();
      throw error;
    }
    try {
      const sizeMismatch = a.size !== b.size;
      const say = (line: string) => {
        if (!values.quiet && !values.json) writeLine(io.stdout, line);
      };
      const answer = (identical: boolean, mismatchOffset: number | null) => {
        if (values.json) {
          writeJson(io, {
            identical,
            mismatchOffset,
            sizeMismatch,
            sizes: { a: a.size, b: b.size },
            formats: { a: a.format, b: b.format },
          });
        }
        return identical ? EXIT_OK : EXIT_NO;
      };
      if (sizeMismatch && values.strict) {
        say("Strict mode: Image size mismatch!");
        return answer(false, null);
      }
      const mismatch = await firstMismatch(a, b, io, () => say("Warning: Image size mismatch!"));
      if (mismatch === null) {
        say("Images are identical.");
        return answer(true, null);
      }
      say(`Content mismatch at offset ${mismatch}!`);
      return answer(false, mismatch);
    } finally {
      await Promise.allSettled([a.close(), b.close()]);
    }
  },
};

/**
 * The first differing sector's offset, or null when the disks read the same
 * (the larger one's rest as zeros). As qemu-img compare does, the common part
 * is compared first; `onSizeMismatch` is called when it is equal and the sizes differ.
 */
export async function firstMismatch(
  a: Disk,
  b: Disk,
  io: CliIO,
  onSizeMismatch: () => void = () => {},
): Promise<number | null> {
  const common = Math.min(a.size, b.size);
  const total = Math.max(a.size, b.size);
  const bar = progress(io, "Comparing", total);
  const bufferA = new Uint8Array(PIECE);
  const bufferB = new Uint8Array(PIECE);
  const zerosA = zeroRuns(a);
  const zerosB = zeroRuns(b);
  try {
    for (let position = 0; position < common; ) {
      bar.update(position);
      const limit = common - position;
      const zeroA = await zerosA(position, limit);
      const zeroB = await zerosB(position, limit);
      if (Math.min(zeroA, zeroB) > 0) {
        position += Math.min(zeroA, zeroB);
        continue;
      }
      const length = Math.min(PIECE - (position % PIECE), limit);
      const x = bufferA.subarray(0, length);
      const y = bufferB.subarray(0, length);
      let found: number;
      if (zeroA >= length || zeroB >= length) {
        await (zeroA >= length ? b : a).readInto(x, position);
        found = firstNonZero(x);
      } else {
        await a.readInto(x, position);
        await b.readInto(y, position);
        found = firstDifference(x, y);
      }
      if (found >= 0) return Math.floor((position + found) / SECTOR) * SECTOR;
      position += length;
    }
    if (a.size === b.size) return null;
    onSizeMismatch();
    // The rest of the larger disk must read as zeros.
    const larger = a.size > b.size ? a : b;
    const largerZeros = larger === a ? zerosA : zerosB;
    for (let position = common; position < total; ) {
      bar.update(position);
      const zeros = await largerZeros(position, total - position);
      if (zeros > 0) {
        position += zeros;
        continue;
      }
      const length = Math.min(PIECE - (position % PIECE), total - position);
      const x = bufferA.subarray(0, length);
      await larger.readInto(x, position);
      const found = firstNonZero(x);
      if (found >= 0) return Math.floor((position + found) / SECTOR) * SECTOR;
      position += length;
    }
    return null;
  } finally {
    bar.finish();
  }
}

/**
 * For positions that only grow: how many bytes from `position` (at most
 * `limit`) the disk's extents say read as zeros; for a raw disk, its file's
 * holes (none where the file system cannot say).
 */
function zeroRuns(disk: Disk): (position: number, limit: number) => Promise<number> {
  if (disk.image === null) return holeRuns(disk);
  const extents = disk.image.extents();
  let current: DiskExtent | null = null;
  const extentAt = async (position: number): Promise<DiskExtent | null> => {
    while (current === null || current.start + current.length <= position) {
      const next = await extents.next();
      if (next.done) return null;
      current = next.value;
    }
    return current;
  };
  return async (position, limit) => {
    let end = position;
    for (
      let extent = await extentAt(end);
      extent !== null && extent.kind !== "data" && end < position + limit;
      extent = await extentAt(end)
    ) {
      end = extent.start + extent.length;
    }
    return Math.min(end, position + limit) - position;
  };
}

/** zeroRuns for a raw disk: the distance from `position` to the next stretch that may hold data. */
function holeRuns(disk: Disk): (position: number, limit: number) => Promise<number> {
  if (disk.dataStretches === undefined) return async () => 0;
  const stretches = disk.dataStretches(0, disk.size)[Symbol.iterator]();
  let current: FileStretch | null = null;
  let exhausted = false;
  return async (position, limit) => {
    while (!exhausted && (current === null || current.offset + current.length <= position)) {
      const next = stretches.next();
      if (next.done) exhausted = true;
      else current = next.value;
    }
    if (exhausted) return limit;
    return Math.min(Math.max(0, current!.offset - position), limit);
  };
}

function firstDifference(x: Uint8Array, y: Uint8Array): number {
  if (Buffer.compare(x, y) === 0) return -1;
  const step = 4096;
  for (let start = 0; start < x.length; start += step) {
    const end = Math.min(start + step, x.length);
    if (Buffer.compare(x.subarray(start, end), y.subarray(start, end)) === 0) continue;
    for (let i = start; i < end; i++) if (x[i] !== y[i]) return i;
  }
  return -1;
}

const ZEROS = new Uint8Array(4096);

function firstNonZero(x: Uint8Array): number {
  const step = ZEROS.length;
  for (let start = 0; start < x.length; start += step) {
    const end = Math.min(start + step, x.length);
    if (Buffer.compare(x.subarray(start, end), ZEROS.subarray(0, end - start)) === 0) continue;
    for (let i = start; i < end; i++) if (x[i] !== 0) return i;
  }
  return -1;
}
