// Locking an image file while it is open, so that two writers never meet and
// nobody writes under a reader, and so that QEMU sees us and we see QEMU.
//
// - Linux: QEMU's byte locks (qemu-lock-bytes.ts). A read-write open is
//   qemu-io's read-write open, a read-only open is `qemu-io -r`, and a
//   read-only open with forceShare is `qemu-io -r -U`.
// - macOS: flock, exclusive for read-write and shared for read-only; nothing
//   with forceShare.
// - Windows: LockFileEx on one byte at 2^52, exclusive for read-write and
//   shared for read-only; nothing with forceShare. Windows' locks are
//   mandatory, so the byte lies far past the end of any real image.
// Only the Linux scheme has been tested (against qemu-io 7.2); the macOS and
// Windows ones have not run on those systems.
//
// Where the addon has no build, or the file system cannot lock, the file is
// opened without a lock and the process gets one warning, as QEMU does.
import { type FileHandle, open } from "node:fs/promises";
import { VhdxError } from "@vhdx/structs";
import { type NativeLocks, errorCode, isUnsupportedLockError, loadNativeLocks } from "./native-locks.js";
import {
  type Conflict,
  type LockMode,
  qemuLockBytes,
  releaseQemuLockBytes,
  tryQemuLockBytes,
} from "./qemu-lock-bytes.js";

export type { LockMode } from "./qemu-lock-bytes.js";

export type LockScheme =
  | { kind: "qemu-bytes" }
  | { kind: "whole-file"; offset: number; length: number; shared: boolean }
  /** forceShare where the platform's scheme has no way to say it: no lock at all. */
  | { kind: "none" }
  | { kind: "unsupported" };

export interface FileLock {
  release(): void;
}

/** Far past the end of any image (64 TiB of data plus metadata is about 2^46). */
export const WINDOWS_LOCK_OFFSET = 2 ** 52;
/** Tries before a conflict counts: another opener's test holds a byte exclusively for a moment. */
const ATTEMPTS = 6;
const NO_LOCK: FileLock = { release() {} };
const HOLDERS = "QEMU, a virtual machine, or another vhdx";

export function lockScheme(platform: NodeJS.Platform, mode: LockMode): LockScheme {
  if (platform === "linux") return { kind: "qemu-bytes" };
  if (platform !== "darwin" && platform !== "win32") return { kind: "unsupported" };
  if (mode === "force-share") return { kind: "none" };
  const shared = mode === "read";
  return platform === "darwin"
    ? { kind: "whole-file", offset: 0, length: 0, shared }
    : { kind: "whole-file", offset: WINDOWS_LOCK_OFFSET, length: 1, shared };
}

/** Locks the open file `handle` for `mode`; LOCKED when another program holds it in a way that conflicts. */
export async function lockFile(
  handle: FileHandle,
  path: string,
  mode: LockMode,
  platform: NodeJS.Platform = process.platform,
): Promise<FileLock> {
  const scheme = lockScheme(platform, mode);
  if (scheme.kind === "none") return NO_LOCK;
  if (scheme.kind === "unsupported") return unlocked(path, `file locking is not implemented on ${platform}`);
  const native = await loadNativeLocks();
  if (native instanceof Error)
    return unlocked(path, `the fs-native-extensions addon cannot be loaded (${native.message})`);
  try {
    return scheme.kind === "qemu-bytes"
      ? await lockQemuBytes(native, handle, path, mode)
      : await lockWholeFile(native, handle.fd, path, mode, scheme);
  } catch (error) {
    if (!isUnsupportedLockError(error)) throw error;
    return unlocked(path, `the file system does not support locks (${errorCode(error)})`);
  }
}

async function lockQemuBytes(native: NativeLocks, handle: FileHandle, path: string, mode: LockMode): Promise<FileLock> {
  const bytes = qemuLockBytes(mode);
  const tester = mode === "write" ? handle : await openForTesting(handle, path);
  try {
    const conflict = await retry(() => tryQemuLockBytes(native, handle.fd, tester?.fd ?? null, bytes));
    if (conflict !== null) throw lockedError(path, mode, conflict);
  } finally {
    if (tester !== handle) await tester?.close();
  }
  return { release: () => releaseQemuLockBytes(native, handle.fd, bytes.hold) };
}

async function lockWholeFile(
  native: NativeLocks,
  fd: number,
  path: string,
  mode: LockMode,
  { offset, length, shared }: { offset: number; length: number; shared: boolean },
): Promise<FileLock> {
  const conflict = await retry(() =>
    native.tryLock(fd, offset, length, { shared }) ? null : shared ? "writing" : "busy",
  );
  if (conflict !== null) throw lockedError(path, mode, conflict);
  return { release: () => native.unlock(fd, offset, length) };
}

/**
 * A second, read-write descriptor of the same file for a reader's tests (an
 * exclusive lock needs one). Null when the file cannot be opened for writing:
 * the reader then holds its bytes untested, which cannot hurt the file; it
 * only misses a writer that came first.
 */
async function openForTesting(handle: FileHandle, path: string): Promise<FileHandle | null> {
  for (const name of [`/proc/self/fd/${handle.fd}`, path]) {
    try {
      return await open(name, "r+");
    } catch (error) {
      const code = errorCode(error);
      if (code === "EACCES" || code === "EROFS" || code === "EPERM") return null;
      if (code !== "ENOENT" || name === path) throw error;
    }
  }
  return null;
}

/** Runs `attempt` until it finds no conflict, a few times over a few tens of milliseconds; never waits longer. */
async function retry(attempt: () => Conflict | null): Promise<Conflict | null> {
  for (let tries = 1; ; tries++) {
    const conflict = attempt();
    if (conflict === null || tries === ATTEMPTS) return conflict;
    // Random, so that two openers that keep meeting drift apart and one of them wins.
    await new Promise((resolve) => setTimeout(resolve, 2 + Math.random() * 10));
  }
}

function lockedError(path: string, mode: LockMode, conflict: Conflict): VhdxError {
  const held = {
    writing: "it is open for writing by another program",
    "no-writing": "it is open by another program that does not allow writing",
    busy: "it is locked by another program",
  }[conflict];
  const wayOn =
    mode === "read"
      ? "open it read-only with forceShare (vhdx -U, qemu -U) to read it anyway, knowing that what is read may be inconsistent while the other program writes"
      : "close that program first";
  return new VhdxError("LOCKED", `cannot open ${path}: ${held} (${HOLDERS}); ${wayOn}`, { file: path });
}

let warned = false;

function unlocked(path: string, why: string): FileLock {
  if (!warned) {
    warned = true;
    process.emitWarning(`${path} is open without a lock: ${why}; another program may write it at the same time`, {
      code: "VHDX_UNLOCKED",
    });
  }
  return NO_LOCK;
}
