// The byte-range and whole-file locks of the fs-native-extensions addon,
// loaded on first use: the portable entry of @vhdx/image never imports it, and
// opening no file costs nothing.

export interface NativeLocks {
  /** false when another holder conflicts; throws for anything else (see isUnsupportedLockError). */
  tryLock(fd: number, offset: number, length: number, options: { shared: boolean }): boolean;
  unlock(fd: number, offset: number, length: number): void;
}

let loading: Promise<NativeLocks | Error> | undefined;

/** The addon, or the Error that says why it cannot be loaded (no prebuild for this platform). */
export function loadNativeLocks(): Promise<NativeLocks | Error> {
  loading ??= import("fs-native-extensions").then(
    (module) => withConflictsAsFalse((module as { default?: NativeLocks }).default ?? module),
    (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
  );
  return loading;
}

/** The addon reports EAGAIN as false; fcntl may say EACCES and LockFileEx EBUSY for the same thing. */
function withConflictsAsFalse(native: NativeLocks): NativeLocks {
  return {
    tryLock(fd, offset, length, options) {
      try {
        return native.tryLock(fd, offset, length, options);
      } catch (error) {
        if (errorCode(error) === "EACCES" || errorCode(error) === "EBUSY") return false;
        throw error;
      }
    },
    unlock: (fd, offset, length) => native.unlock(fd, offset, length),
  };
}

const UNSUPPORTED = new Set(["ENOTSUP", "EOPNOTSUPP", "ENOLCK", "EINVAL", "ENOSYS"]);

/** The file system cannot lock (some network and FUSE file systems): the file is opened without a lock, as QEMU does. */
export function isUnsupportedLockError(error: unknown): boolean {
  return UNSUPPORTED.has(errorCode(error) ?? "");
}

export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}
