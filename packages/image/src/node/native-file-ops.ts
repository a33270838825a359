// The package's own small addon (native/file-ops.c, built into dist/native
// by scripts/build-native.mjs): lseek's SEEK_DATA and SEEK_HOLE, and
// fallocate(2) on Linux, which Node has no API for. Loaded on first use;
// null where it was not built (Windows, no C compiler), and then callers do
// without: they read holes, and write zeros where they would reserve space.
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

export interface FileOpsAddon {
  /** The first data at or after `offset`, or -1 when there is none. */
  seekData(fd: number, offset: number): number;
  /** The first hole at or after `offset` (the end of the file counts as one), or -1 past the end. */
  seekHole(fd: number, offset: number): number;
  /** fallocate(2), Linux only: true when the range is reserved, false where the file system cannot. */
  allocate?(fd: number, offset: number, length: number): boolean;
}

let addon: FileOpsAddon | null | undefined;

/** The addon, or null where it is not built; loaded once. */
export function fileOpsAddon(): FileOpsAddon | null {
  if (addon === undefined) addon = loadAddon();
  return addon;
}

function loadAddon(): FileOpsAddon | null {
  try {
    // The CommonJS build has __filename and no import.meta.url; the ESM one the other way round.
    // Resolved through the package's name, so the CLI's bundle of this code finds it too.
    const require = createRequire(typeof __filename === "string" ? __filename : import.meta.url);
    const root = dirname(require.resolve("@vhdx/image/package.json"));
    const loaded = require(join(root, "dist", "native", `${process.platform}-${process.arch}`, "file-ops.node"));
    return typeof loaded.seekData === "function" && typeof loaded.seekHole === "function" ? loaded : null;
  } catch {
    return null;
  }
}
