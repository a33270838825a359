// Opening VHDX files by path, with differencing parents found on disk.
import { realpath } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { VhdxError } from "@vhdx/structs";
import type { VhdxImage } from "../image.js";
import { checkOptionKeys } from "../internal/options.js";
import { OPEN_OPTION_KEYS, type OpenOptions, openImageOwningSource } from "../open/open-image.js";
import type { ParentLocation, ParentResolver } from "../open/parents.js";
import type { RandomAccessSource } from "../sources/source.js";
import { FileSource } from "./file-source.js";
import { isInsideFolder, parentPathCandidates } from "./parent-paths.js";

export interface OpenVhdxOptions extends Omit<OpenOptions, "parentResolver"> {
  /**
   * false: a read-write image is never flushed to stable storage (no
   * fdatasync, like qemu's cache=unsafe); see FileSourceOptions.flush.
   * Default true.
   */
  flush?: boolean;
  /**
   * Read-only opens only: read the file and its parents even while another
   * program writes them (qemu's -U); what is read may be inconsistent. See
   * FileSourceOptions.forceShare. Default false.
   */
  forceShare?: boolean;
  /**
   * Reads of at most this many bytes, of the file and its parents, are made
   * on the calling thread; see FileSourceOptions.blockingReadLimit. Default 0.
   */
  blockingReadLimit?: number;
}

const OPTION_KEYS = [
  ...OPEN_OPTION_KEYS.filter((key) => key !== "parentResolver"),
  "flush",
  "forceShare",
  "blockingReadLimit",
] as const satisfies readonly (keyof OpenVhdxOptions)[];

/**
 * Opens the VHDX file at `path` (read-only unless `readOnly: false`) and
 * locks it, and each parent it opens (read-only: shared), until close(),
 * which closes them all (not a parent image passed in `parents`).
 * LOCKED when another program holds one of them in a way that conflicts.
 */
export async function openVhdx(path: string, options: OpenVhdxOptions = {}): Promise<VhdxImage> {
  checkOptionKeys("openVhdx", options, OPTION_KEYS);
  try {
    return await openFile(path, options);
  } catch (error) {
    throw VhdxError.isInstance(error) ? VhdxError.inFile(error, path) : error;
  }
}

async function openFile(path: string, options: OpenVhdxOptions): Promise<VhdxImage> {
  const { flush, forceShare, blockingReadLimit, ...open } = options;
  const source = await FileSource.open(path, {
    readOnly: open.readOnly ?? true,
    ...(flush === undefined ? {} : { flush }),
    ...(forceShare === undefined ? {} : { forceShare }),
    ...(blockingReadLimit === undefined ? {} : { blockingReadLimit }),
  });
  try {
    return await openImageOwningSource(source, {
      ...open,
      parentResolver: createFileParentResolver({
        forceShare: forceShare ?? false,
        blockingReadLimit: blockingReadLimit ?? 0,
      }),
    });
  } catch (error) {
    await source.close();
    throw error;
  }
}

export interface FileParentResolverOptions {
  /** Open the parents with forceShare (see FileSourceOptions.forceShare). */
  forceShare?: boolean;
  /** See FileSourceOptions.blockingReadLimit. */
  blockingReadLimit?: number;
}

/** Resolves parent locator paths against the child file's folder; parents are opened read-only. */
export function createFileParentResolver({
  forceShare = false,
  blockingReadLimit = 0,
}: FileParentResolverOptions = {}): ParentResolver {
  const openParent = (path: string) => FileSource.open(path, { forceShare, blockingReadLimit });
  return {
    locate: (locator, child, allowOutsideTree) => locateParents(locator, child, allowOutsideTree, openParent),
    async openPath(path) {
      return { source: await openParent(path), identity: await realpathOr(resolve(path)) };
    },
  };
}

/** The resolver of openVhdx without forceShare. */
export const fileParentResolver: ParentResolver = createFileParentResolver();

async function locateParents(
  locator: Readonly<Record<string, string>>,
  child: RandomAccessSource,
  allowOutsideTree: boolean,
  openParent: (path: string) => Promise<FileSource>,
): Promise<ParentLocation[]> {
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
      open: () => openParent(candidate.path),
    });
  }
  return locations;
}

/** The real path, or the path itself when it does not exist (the open then fails with a clear message). */
async function realpathOr(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch {
    return path;
  }
}
