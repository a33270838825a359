// QEMU's image locking (block/file-posix.c in QEMU 7.2, raw_apply_lock_bytes
// and raw_check_lock_bytes), done with the same open-file-description locks
// (F_OFD_SETLK) on the same single bytes, so QEMU and we see each other.
//
// Each BLK_PERM_* bit b has two bytes: 100 + b, held (shared) by whoever
// uses the permission, and 200 + b, held (shared) by whoever refuses to share
// it. An opener holds its bytes, then tests: for each permission it refuses to
// share, that nobody else holds 100 + b; for each permission it uses, that
// nobody else holds 200 + b. QEMU tests with F_OFD_GETLK, which the addon
// lacks: we test by taking the byte exclusively for a moment (on the
// descriptor that holds it shared: an upgrade, then a downgrade back). That
// moment can make another opener's hold or test fail, so a failed attempt
// lets go of everything and is tried again a few times before it counts.
import type { NativeLocks } from "./native-locks.js";

export type LockMode = "write" | "read" | "force-share";

export interface LockBytes {
  /** Held shared while the file is open. */
  hold: number[];
  /** Tested once, after the holds: nobody else may hold these. */
  test: number[];
}

/** Why a test failed: someone writes, or someone refuses to let others write. */
export type Conflict = "writing" | "no-writing" | "busy";

const PERMISSION_BASE = 100;
const SHARED_BASE = 200;
const CONSISTENT_READ = 0;
const WRITE = 1;
const RESIZE = 3;

/** The bytes of an open: like qemu-io (read-write), `qemu-io -r`, and `qemu-io -r -U`. */
export function qemuLockBytes(mode: LockMode): LockBytes {
  const used = mode === "write" ? [CONSISTENT_READ, WRITE, RESIZE] : [CONSISTENT_READ];
  const unshared = mode === "force-share" ? [] : [WRITE, RESIZE];
  return {
    hold: [...used.map((bit) => PERMISSION_BASE + bit), ...unshared.map((bit) => SHARED_BASE + bit)],
    // Users of what we refuse first, so a writer meeting a writer says "writing".
    test: [...unshared.map((bit) => PERMISSION_BASE + bit), ...used.map((bit) => SHARED_BASE + bit)],
  };
}

/** What another holder of `byte` is doing. */
export function conflictOf(byte: number): Conflict {
  if (byte === PERMISSION_BASE + WRITE || byte === PERMISSION_BASE + RESIZE) return "writing";
  if (byte === SHARED_BASE + WRITE || byte === SHARED_BASE + RESIZE) return "no-writing";
  return "busy";
}

/**
 * One attempt: hold the bytes on `fd`, then test on `testFd` (`fd` itself
 * for a writer, a second read-write descriptor for a reader, null when the
 * file cannot be opened for writing and so is only held). Returns null when
 * the file is ours, else the conflict, with nothing left held.
 */
export function tryQemuLockBytes(
  native: NativeLocks,
  fd: number,
  testFd: number | null,
  bytes: LockBytes,
): Conflict | null {
  const held: number[] = [];
  try {
    const conflict =
      holdAll(native, fd, bytes.hold, held) ?? (testFd === null ? null : testAll(native, fd, testFd, bytes, held));
    if (conflict !== null) releaseQemuLockBytes(native, fd, held);
    return conflict;
  } catch (error) {
    releaseQemuLockBytes(native, fd, held);
    throw error;
  }
}

export function releaseQemuLockBytes(native: NativeLocks, fd: number, bytes: readonly number[]): void {
  for (const byte of bytes) native.unlock(fd, byte, 1);
}

function holdAll(native: NativeLocks, fd: number, bytes: readonly number[], held: number[]): Conflict | null {
  for (const byte of bytes) {
    if (!native.tryLock(fd, byte, 1, { shared: true })) return "busy";
    held.push(byte);
  }
  return null;
}

function testAll(
  native: NativeLocks,
  fd: number,
  testFd: number,
  bytes: LockBytes,
  held: readonly number[],
): Conflict | null {
  for (const byte of bytes.test) {
    const ours = testFd === fd && held.includes(byte);
    if (!native.tryLock(testFd, byte, 1, { shared: false })) return conflictOf(byte);
    // Back to what we had: shared, or nothing.
    if (ours) native.tryLock(testFd, byte, 1, { shared: true });
    else native.unlock(testFd, byte, 1);
  }
  return null;
}
