// The byte-range and whole-file locks of the fs-native-extensions addon,
// loaded on first use: the portable entry of @vhdx/image never imports it, and
// opening no file costs nothing.
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

export interface NativeLocks {
  /** false when another holder conflicts; throws for anything else (see isUnsupportedLockError). */
  tryLock(fd: number, offset: number, length: number, options: { shared: boolean }): boolean;
  unlock(fd: number, offset: number, length: number): void;
}

let loading: Promise<NativeLocks | Error> | undefined;

/** The addon, or the Error that says why it cannot be loaded (no prebuild for this platform). */
export function loadNativeLocks(): Promise<NativeLocks | Error> {
  loading ??= Promise.resolve().then(
    () => prebuiltBinding() ?? loadPackageEntry(),
    (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
  );
  return loading;
}

/** The binding's own calls: tryLock(fd, offset, length, exclusive) throws EAGAIN on a conflict. */
interface RawBinding {
  tryLock(fd: number, offset: number, length: number, exclusive: boolean): void;
  unlock(fd: number, offset: number, length: number): void;
}

/**
 * The package's prebuilt binary for this platform, loaded directly: its
 * entry resolves the same file through require-addon, which costs about 20 ms
 * of every command's start-up against 1 ms for this. Null when the package
 * does not lay out its prebuilds this way (then its entry is used).
 */
function prebuiltBinding(): NativeLocks | null {
  let binding: RawBinding;
  try {
    // The CommonJS build has __filename and no import.meta.url; the ESM one the other way round.
    const require = createRequire(typeof __filename === "string" ? __filename : import.meta.url);
    const root = dirname(require.resolve("fs-native-extensions/package.json"));
    binding = require(join(root, "prebuilds", `${process.platform}-${process.arch}`, "fs-native-extensions.node"));
  } catch {
    return null;
  }
  if (typeof binding.tryLock !== "function" || typeof binding.unlock !== "function") return null;
  return withConflictsAsFalse({
    tryLock(fd, offset, length, { shared }) {
      try {
        binding.tryLock(fd, offset, length, !shared);
        return true;
      } catch (error) {
        if (errorCode(error) === "EAGAIN") return false;
        throw error;
      }
    },
    unlock: (fd, offset, length) => binding.unlock(fd, offset, length),
  });
}

async function loadPackageEntry(): Promise<NativeLocks | Error> {
  try {
    const module = await import("fs-native-extensions");
    return withConflictsAsFalse((module as { default?: NativeLocks }).default ?? module);
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
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
