// Where a file's data is, from lseek's SEEK_DATA and SEEK_HOLE, through the
// package's small addon (native-file-ops.ts). Without it (Windows, a build
// with no C compiler) or with VHDX_SEEK_DATA=0 in the environment, the whole
// file is data. A hole always reads as zeros; a data stretch may hold zeros
// too (what the file system reports is allocation, not content).
import { type FileOpsAddon, fileOpsAddon } from "./native-file-ops.js";

/** The addon's seek calls, or null where it is not built or VHDX_SEEK_DATA=0 switches them off. */
function seekBinding(): FileOpsAddon | null {
  return process.env.VHDX_SEEK_DATA === "0" ? null : fileOpsAddon();
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
function nextStretch(seek: FileOpsAddon, fd: number, at: number, end: number): FileStretch | null {
  try {
    const data = seek.seekData(fd, at);
    if (data < 0 || data >= end) return null;
    const hole = seek.seekHole(fd, data);
    return { offset: data, length: (hole < 0 || hole > end ? end : hole) - data };
  } catch {
    return { offset: at, length: end - at };
  }
}
