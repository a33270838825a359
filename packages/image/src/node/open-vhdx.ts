// Opening VHDX files by path, with differencing parents found on disk.
import { realpath } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import type { VhdxImage } from "../image.js";
import { type OpenOptions, openImage } from "../open/open-image.js";
import type { ParentLocation, ParentResolver } from "../open/parents.js";
import { FileSource } from "./file-source.js";
import { isInsideFolder, parentPathCandidates } from "./parent-paths.js";

export interface OpenVhdxOptions extends Omit<OpenOptions, "parentResolver"> {
  /**
   * false: a read-write image is never flushed to stable storage (no
   * fdatasync, like qemu's cache=unsafe); see FileSourceOptions.flush.
   * Default true.
   */
  flush?: boolean;
}

/** Opens the VHDX file at `path` (read-only unless `readOnly: false`). */
export async function openVhdx(path: string, options: OpenVhdxOptions = {}): Promise<VhdxImage> {
  const { flush, ...open } = options;
  const source = await FileSource.open(path, { readOnly: open.readOnly ?? true, ...(flush === undefined ? {} : { flush }) });
  try {
    return await openImage(source, { ...open, parentResolver: fileParentResolver });
  } catch (error) {
    await source.close();
    throw error;
  }
}

/** Resolves parent locator paths against the child file's folder. */
export const fileParentResolver: ParentResolver = {
  async locate(locator, child, allowOutsideTree) {
    if (!(child instanceof FileSource)) return [];
    const childFolder = await realpathOr(dirname(resolve(child.name)));
    const locations: ParentLocation[] = [];
    for (const candidate of parentPathCandidates(locator, child.name)) {
      const identity = await realpathOr(candidate.path);
      const outside = !allowOutsideTree && !isInsideFolder(identity, childFolder);
      locations.push({
        description: `${candidate.key} ${JSON.stringify(candidate.written)} (${candidate.path})`,
        identity,
        ...(outside ? { refusal: "outside the child's folder (allowParentOutsideTree permits it)" } : {}),
        open: () => FileSource.open(candidate.path),
      });
    }
    return locations;
  },
  async openPath(path) {
    return { source: await FileSource.open(path), identity: await realpathOr(resolve(path)) };
  },
};

/** The real path, or the path itself when it does not exist (the open then fails with a clear message). */
async function realpathOr(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch {
    return path;
  }
}
