// The guards the copying commands share: ranges inside the disk, no binary
// data to a terminal, no output over the disk being read, closed pipes.
import { stat } from "node:fs/promises";
import { resolve } from "node:path";
import { VhdxError } from "@vhdx/image";
import { usageError } from "./command.js";
import type { Disk } from "./disk.js";
import type { CliIO } from "./io.js";

/** OUT_OF_RANGE unless [offset, offset + length) lies inside the disk. */
export function checkRange(disk: Disk, offset: number, length: number, operation: string): void {
  if (offset > disk.size) {
    throw new VhdxError(
      "OUT_OF_RANGE",
      `offset ${offset} is past the end of the virtual disk (${disk.size} bytes): ${disk.path}`,
    );
  }
  if (offset + length > disk.size) {
    throw new VhdxError(
      "OUT_OF_RANGE",
      `${operation} of ${length} bytes at offset ${offset} ends past the end of the virtual disk (${disk.size} bytes): ${disk.path}`,
    );
  }
}

/** Binary data to a terminal helps no one: refuse (INVALID_ARGUMENT). */
export function refuseTerminal(io: CliIO, command: string): void {
  if ((io.stdout as { isTTY?: boolean }).isTTY === true) {
    throw usageError(command, "stdout is a terminal; redirect it to a file or a pipe (or use -o for read)");
  }
}

/** The files a disk reads from: the image and, for a differencing disk, every parent. */
function diskFiles(disk: Disk): string[] {
  const files = [disk.path];
  for (let image = disk.image?.parent ?? null; image !== null; image = image.parent)
    files.push(resolve(image.source.name));
  return files;
}

/** Whether `path` exists and is one of the disk's files (same device and inode). */
export async function isDiskFile(path: string, disk: Disk): Promise<boolean> {
  const target = await stat(path).catch(() => null);
  if (target === null) return false;
  for (const file of diskFiles(disk)) {
    const other = await stat(file).catch(() => null);
    if (other !== null && other.dev === target.dev && other.ino === target.ino) return true;
  }
  return false;
}

export async function refuseSameFile(path: string, disk: Disk, command: string, what: string): Promise<void> {
  if (await isDiskFile(path, disk))
    throw usageError(command, `${what} ${path} is the disk being read (or one of its parents)`);
}

/** The error of a write to a pipe whose reader has gone. */
export function isClosedPipe(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "EPIPE" || code === "ERR_STREAM_DESTROYED" || code === "ERR_STREAM_WRITE_AFTER_END";
}

const quieted = new WeakSet<object>();

/**
 * After a reader goes away, a stream may still emit an error once our own
 * listener is gone; without a listener that would crash with a stack trace.
 * Every write reports its own error through writeChunk.
 */
export function quietOnClosedPipe(stream: NodeJS.WritableStream): void {
  if (quieted.has(stream)) return;
  quieted.add(stream);
  stream.on("error", () => undefined);
}
