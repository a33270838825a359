// A new file made all or nothing (convert, create, cat -o, read -o): it is
// written under a temporary name beside the destination,
// `out.vhdx.partial-<pid>-<random>`, and renamed over the destination only
// once complete (closed, and flushed when asked). On an error or a signal the
// temporary file is removed, so nothing is left under the destination's
// name and a file being replaced stays as it was; after a SIGKILL at most the
// temporary file remains, and its name says what it is. The rename is atomic
// because both names are in the same folder (which also keeps a differencing
// disk's relative parent locator right).
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { type FileHandle, link, open, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { VhdxError } from "@vhdx/image";
import { usageError } from "./command.js";
import type { Interrupts } from "./interrupt.js";

export interface OutputOptions {
  /** Replace an existing destination (at the rename); otherwise an existing one is an error. */
  replace: boolean;
  /** Make the rename durable too (fsync the folder): for --sync, whose file is already flushed. */
  sync?: boolean;
  interrupts: Interrupts;
  /** Names the destination in errors, e.g. "DST" or "-o". */
  label: string;
  command: string;
  /** What to do about an existing destination, for the refusal (default: add --force). */
  whenExists?: string;
}

/** Longest file name most file systems take, in bytes. */
const NAME_MAX = 255;

/** `out.vhdx.partial-<pid>-<random>` in out.vhdx's folder. */
function temporaryPath(destination: string): string {
  const suffix = `.partial-${process.pid}-${randomBytes(3).toString("hex")}`;
  let name = basename(destination);
  while (Buffer.byteLength(name) + suffix.length > NAME_MAX) name = name.slice(0, -1);
  return join(dirname(destination), name + suffix);
}

/**
 * Refuses a destination that cannot be replaced by a rename: a folder, a
 * device or a pipe (redirect stdout to those), or an existing file without
 * `replace`.
 */
async function checkDestination(
  destination: string,
  options: Omit<OutputOptions, "interrupts" | "sync">,
): Promise<void> {
  const existing = await stat(destination).catch(() => null);
  if (existing === null) return;
  const { label, command } = options;
  if (existing.isDirectory()) throw usageError(command, `${label} ${destination} is a folder`);
  if (!existing.isFile())
    throw usageError(
      command,
      `${label} ${destination} is not a regular file; write to stdout and redirect it there instead`,
    );
  if (!options.replace) throw existsError(destination, options);
}

/**
 * Runs `write` on a temporary path beside `destination` (which `write` must
 * create, and close before it returns), then renames it into place. The
 * temporary file is removed when `write` fails, when a signal arrived
 * meanwhile (Interrupted is thrown), and by a forced exit.
 */
export async function writeOutput<T>(
  destination: string,
  options: OutputOptions,
  write: (temporary: string) => Promise<T>,
): Promise<T> {
  const { interrupts } = options;
  interrupts.signal.throwIfAborted();
  await checkDestination(destination, options);
  const temporary = temporaryPath(destination);
  const unregister = interrupts.onForcedExit(() => rmSync(temporary, { force: true }));
  try {
    const result = await write(temporary);
    interrupts.signal.throwIfAborted();
    await moveIntoPlace(temporary, destination, options);
    interrupts.report(() => `${destination} was complete before the signal came, and is kept`);
    return result;
  } catch (error) {
    await rm(temporary, { force: true }).catch(() => undefined);
    throw error;
  } finally {
    unregister();
  }
}

async function moveIntoPlace(temporary: string, destination: string, options: OutputOptions): Promise<void> {
  try {
    if (options.replace || !(await linkedWithoutReplacing(temporary, destination, options)))
      await rename(temporary, destination);
  } catch (error) {
    if (VhdxError.isInstance(error)) throw error;
    throw new VhdxError("IO_ERROR", `cannot rename ${temporary} to ${destination}: ${messageOf(error)}`, {
      cause: error,
    });
  }
  if (options.sync) await syncFolder(dirname(destination));
}

/**
 * Without `replace`, a file that appeared at the destination since it was
 * checked must not be replaced: link() fails where it exists, rename() would
 * not. Returns false when the file system has no hard links (then a rename
 * after the check is the best there is).
 */
async function linkedWithoutReplacing(
  temporary: string,
  destination: string,
  options: OutputOptions,
): Promise<boolean> {
  try {
    await link(temporary, destination);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EEXIST") throw existsError(destination, options);
    if (code === "EPERM" || code === "ENOTSUP" || code === "EOPNOTSUPP" || code === "ENOSYS") {
      await checkDestination(destination, options);
      return false;
    }
    throw error;
  }
  await rm(temporary);
  return true;
}

function existsError(destination: string, options: Omit<OutputOptions, "interrupts" | "sync">): VhdxError {
  return usageError(
    options.command,
    `${options.label} ${destination} exists; ${options.whenExists ?? "add --force to replace it"}`,
  );
}

/** fsync on the folder, so the rename survives a crash. */
async function syncFolder(folder: string): Promise<void> {
  let handle: FileHandle | null = null;
  try {
    handle = await open(folder, "r");
    await handle.sync();
  } catch (error) {
    throw new VhdxError("IO_ERROR", `cannot flush the folder ${folder}: ${messageOf(error)}`, { cause: error });
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
