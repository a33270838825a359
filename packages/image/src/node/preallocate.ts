// Giving a new fixed image's payload blocks their space on the file system, as
// New-VHD -Fixed does (a file only truncated to size has holes there).
// "falloc" reserves the space without writing it, with fallocate(2) through
// the package's addon (FileSource.allocate; 4 ms for 256 MiB on ext4, against
// 180-740 ms to write zeros and about 1 s to write one byte per 4 KiB page);
// where that is not to be had (another platform, a file system without it),
// zeros are written instead. "full" writes zeros. "off" leaves the holes.
import { MiB } from "@vhdx/structs";
import type { RandomAccessSource } from "../sources/source.js";
import { FileSource } from "./file-source.js";

export type Preallocation = "off" | "falloc" | "full";

export const PREALLOCATIONS: readonly Preallocation[] = ["off", "falloc", "full"];

/** Zeros written at a time by "full". */
const ZERO_CHUNK = 8 * MiB;

/**
 * Allocates [offset, offset + length) of the file open as `source`, and
 * flushes; resolves to what was done ("falloc" falls back to "full" where it
 * cannot reserve).
 */
export async function preallocate(
  source: RandomAccessSource,
  offset: number,
  length: number,
  mode: Preallocation,
): Promise<Preallocation> {
  if (mode === "off" || length <= 0) return "off";
  if (mode === "falloc" && source instanceof FileSource && (await source.allocate(offset, length))) {
    await source.flush();
    return "falloc";
  }
  const zeros = new Uint8Array(Math.min(ZERO_CHUNK, length));
  for (let done = 0; done < length; done += zeros.length) {
    await source.write(zeros.subarray(0, Math.min(zeros.length, length - done)), offset + done);
  }
  await source.flush();
  return "full";
}
