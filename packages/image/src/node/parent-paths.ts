// Turning a parent locator's Windows paths into paths this host can open
// (MS-VHDX 2.6.2.6.3): relative_path first, then volume_path, then
// absolute_win32_path. On Windows the paths are used as written. Elsewhere a
// relative path is resolved against the child's folder, a drive path is tried
// under WSL's /mnt/<drive>, an absolute path of this host (vhdx create on
// Linux or macOS writes one) as it is, and, as a last resort, the parent's file name is
// looked for beside the child. Volume GUID paths have no meaning off Windows.
import { dirname, isAbsolute, relative, resolve, win32 } from "node:path";

export interface ParentPathCandidate {
  /** The locator key the path came from. */
  key: string;
  /** The path as written in the locator. */
  written: string;
  /** The host path to try. */
  path: string;
}

const LOCATOR_PATH_KEYS = ["relative_path", "volume_path", "absolute_win32_path"] as const;

export function parentPathCandidates(
  locator: Readonly<Record<string, string>>,
  childPath: string,
  platform: NodeJS.Platform = process.platform,
): ParentPathCandidate[] {
  const childDir = dirname(resolve(childPath));
  const candidates: ParentPathCandidate[] = [];
  const add = (key: string, written: string, path: string | null) => {
    if (path !== null && !candidates.some((c) => c.path === path)) candidates.push({ key, written, path });
  };
  for (const key of LOCATOR_PATH_KEYS) {
    const written = locator[key];
    if (written === undefined || written === "") continue;
    if (platform === "win32") {
      add(key, written, key === "relative_path" ? win32.resolve(childDir, written) : written);
      continue;
    }
    if (key === "relative_path") add(key, written, resolve(childDir, written.replace(/\\/g, "/")));
    if (key === "absolute_win32_path") add(key, written, written.startsWith("/") ? written : wslPath(written));
  }
  for (const key of LOCATOR_PATH_KEYS) {
    const written = locator[key];
    if (platform !== "win32" && written) add(key, written, resolve(childDir, win32.basename(written)));
  }
  return candidates;
}

/** `\\?\C:\dir\file.vhdx` or `C:\dir\file.vhdx` as `/mnt/c/dir/file.vhdx`; null for anything else. */
function wslPath(windowsPath: string): string | null {
  const match = /^(?:\\\\\?\\)?([A-Za-z]):\\(.*)$/.exec(windowsPath);
  if (match === null) return null;
  return `/mnt/${match[1]!.toLowerCase()}/${match[2]!.replace(/\\/g, "/")}`;
}

/** Whether `path` lies in `folder` or below it (both already resolved). */
export function isInsideFolder(path: string, folder: string): boolean {
  const fromFolder = relative(folder, path);
  return fromFolder !== "" && !fromFolder.startsWith("..") && !isAbsolute(fromFolder);
}
