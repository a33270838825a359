// Where a file's data is, from lseek's SEEK_DATA and SEEK_HOLE, through the
// small addon of native/seek.c (built into dist/native by the package's build
// script). Everything else reads the whole file as data: Windows, a build
// without a C compiler, or VHDX_SEEK_DATA=0 in the environment. A hole always
// reads as zeros; a data stretch may hold zeros too (what the file system
// reports is allocation, not content).
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

interface SeekBinding {
  /** The first data at or after `offset`, or -1 when there is none. */
  seekData(fd: number, offset: number): number;
  /** The first hole at or after `offset` (the end of the file counts as one), or -1 past the end. */
  seekHole(fd: number, offset: number): number;
}

let binding: SeekBinding | null | undefined;

/** The addon, or null where it is not built or is switched off; loaded once. */
function seekBinding(): SeekBinding | null {
  if (binding === undefined) binding = process.env.VHDX_SEEK_DATA === "0" ? null : loadBinding();
  return binding;
}

function loadBinding(): SeekBinding | null {
  try {
    // The CommonJS build has __filename and no import.meta.url; the ESM one the other way round.
    const require = createRequire(typeof __filename === "string" ? __filename : import.meta.url);
    const root = dirname(require.resolve("@vhdx/image/package.json"));
    const loaded = require(join(root, "dist", "native", `${process.platform}-${process.arch}`, "seek.node"));
    return typeof loaded.seekData === "function" && typeof loaded.seekHole === "function" ? loaded : null;
  } catch {
    return null;
  }
}

/** Whether FileSource.dataStretches finds holes here (the addon is loaded and not switched off). */
export function canSeekData(): boolean {
  return seekBinding() !== null;
}

/** A stretch [offset, offset + length) of a file. */
export interface FileStretch {
  offset: number;
  length: number;
}

/**
 * The stretches of [offset, offset + length) of the open file `fd` that may
 * hold data, in order; what lies between them reads as zeros. Without the
 * addon, or where the file system cannot say, the whole range is one stretch.
 */
export function* dataStretches(fd: number, offset: number, length: number): Generator<FileStretch> {
  const end = offset + length;
  const seek = seekBinding();
  if (seek === null) {
    if (length > 0) yield { offset, length };
    return;
  }
  for (let at = offset; at < end; ) {
    const stretch = nextStretch(seek, fd, at, end);
    if (stretch === null) return;
    yield stretch;
    at = stretch.offset + stretch.length;
  }
}

/** The next data stretch at or after `at`, cut at `end`; the rest of the range when the file system refuses to say. */
function nextStretch(seek: SeekBinding, fd: number, at: number, end: number): FileStretch | null {
  try {
    const data = seek.seekData(fd, at);
    if (data < 0 || data >= end) return null;
    const hole = seek.seekHole(fd, data);
    return { offset: data, length: (hole < 0 || hole > end ? end : hole) - data };
  } catch {
    return { offset: at, length: end - at };
  }
}
