// Creating VHDX files by path (the layout is src/create's, MS-VHDX 2.1 to
// 2.6). For a differencing disk the parent locator (2.6.2.6.3) is computed
// from the two paths: relative_path is the parent's path from the child's
// folder with "\" separators; absolute_win32_path (\\?\C:\...) only on Windows.
import { rm } from "node:fs/promises";
import { posix, resolve, win32 } from "node:path";
import { writeNewImage } from "../create/create-image.js";
import {
  CREATE_OPTION_KEYS,
  type CreateOptions,
  checkDiskType,
  invalidArgument,
  resolveCreateOptions,
} from "../create/create-options.js";
import { VhdxImage } from "../image.js";
import { checkOptionKeys } from "../internal/options.js";
import { type OpenOptions, openImageOwningSource } from "../open/open-image.js";
import { FileSource } from "./file-source.js";
import { PREALLOCATIONS, type Preallocation, preallocate } from "./preallocate.js";
import { fileParentResolver, openVhdx } from "./open-vhdx.js";

export interface CreateVhdxOptions extends Omit<CreateOptions, "parent" | "parentLocator"> {
  /** For differencing: the parent's path, or an image opened from a file. */
  parent?: string | VhdxImage;
  /** Let the parent's own chain, and the new disk's, lead outside each child's folder (default false). */
  allowParentOutsideTree?: boolean;
  /**
   * false: the file is never flushed to stable storage (no fdatasync, like
   * qemu's cache=unsafe); see FileSourceOptions.flush. Default true.
   */
  flush?: boolean;
  /**
   * A fixed disk's blocks on the file system: "off" (the default) leaves the
   * file sparse, "falloc" reserves the space (fallocate; zeros are written
   * where it is unavailable), "full" writes zeros. See preallocate.ts.
   */
  preallocation?: Preallocation;
}

const OPTION_KEYS = [
  ...CREATE_OPTION_KEYS.filter((key) => key !== "parentLocator"),
  "allowParentOutsideTree",
  "flush",
  "preallocation",
] as const satisfies readonly (keyof CreateVhdxOptions)[];

/**
 * Creates a VHDX file at `path` (refusing to overwrite one: IO_ERROR) and
 * returns it opened read-write. A parent given by path is opened here and
 * closed with the returned image; a parent given as an image stays the
 * caller's to close. If writing fails, the new file is removed. The new file
 * is locked as a read-write open is, and a parent opened here as a reader.
 */
export async function createVhdx(path: string, options: CreateVhdxOptions): Promise<VhdxImage> {
  checkArguments(path, options);
  const { parent, allowParentOutsideTree = false, flush = true, preallocation = "off", ...rest } = options;
  checkDiskType(rest.type, parent !== undefined);
  const parentImage = typeof parent === "string" ? await openVhdx(parent, { allowParentOutsideTree }) : parent;
  try {
    const parentLocator =
      parentImage === undefined ? undefined : parentLocatorPaths(path, parentFile(parent, parentImage));
    const plan = resolveCreateOptions({ ...rest, parent: parentImage, parentLocator });
    const open: OpenOptions =
      typeof parent === "string"
        ? { parentResolver: fileParentResolver, parents: [resolve(parent)], allowParentOutsideTree }
        : { parents: parentImage === undefined ? [] : [parentImage], allowParentOutsideTree };
    const write = async (source: FileSource) => {
      const layout = await writeNewImage(source, plan);
      const payload = layout.fileSize - layout.firstBlockOffset;
      await preallocate(source, layout.firstBlockOffset, payload, preallocation);
    };
    return await createFile(path, flush, write, open);
  } finally {
    if (typeof parent === "string") await parentImage?.close();
  }
}

/** Creates the file, runs `write`, opens the result; removes the file when anything fails. */
async function createFile(
  path: string,
  flush: boolean,
  write: (source: FileSource) => Promise<unknown>,
  open: OpenOptions,
): Promise<VhdxImage> {
  const source = await FileSource.open(path, { create: true, flush });
  try {
    await write(source);
    return await openImageOwningSource(source, { ...open, readOnly: false });
  } catch (error) {
    await source.close().catch(() => undefined);
    await rm(path, { force: true }).catch(() => undefined);
    throw error;
  }
}

function checkArguments(path: string, options: CreateVhdxOptions): void {
  if (typeof path !== "string" || path === "") throw new TypeError("createVhdx: path must be a non-empty string");
  if (typeof options !== "object" || options === null) throw new TypeError("createVhdx: options must be an object");
  checkOptionKeys("createVhdx", options, OPTION_KEYS);
  const { parent, allowParentOutsideTree, type, flush } = options;
  if (parent !== undefined && typeof parent !== "string" && !(parent instanceof VhdxImage)) {
    throw new TypeError("createVhdx: parent must be a path or an opened VhdxImage");
  }
  if (typeof parent === "string" && parent === "") throw invalidArgument("parent is an empty path");
  if (allowParentOutsideTree !== undefined && typeof allowParentOutsideTree !== "boolean") {
    throw new TypeError("createVhdx: allowParentOutsideTree must be a boolean");
  }
  if (flush !== undefined && typeof flush !== "boolean") throw new TypeError("createVhdx: flush must be a boolean");
  const { preallocation } = options;
  if (preallocation !== undefined && !PREALLOCATIONS.includes(preallocation))
    throw invalidArgument(`preallocation is ${JSON.stringify(preallocation)}, expected "off", "falloc" or "full"`);
  if (preallocation !== undefined && preallocation !== "off" && type !== "fixed")
    throw invalidArgument(`preallocation is for a fixed disk; a ${type ?? "dynamic"} one allocates blocks as written`);
  if (type !== undefined && typeof type !== "string")
    throw new TypeError(`create: type must be a string, got ${typeof type}`);
}

/** The parent's file path: the path given, or the file an opened image was read from. */
function parentFile(parent: string | VhdxImage | undefined, image: VhdxImage): string {
  if (typeof parent === "string") return parent;
  if (image.source instanceof FileSource) return image.source.name;
  throw invalidArgument(
    `the parent image was not opened from a file (${image.source.name}); pass the parent's path instead`,
  );
}

/**
 * The locator path keys for a child at `childPath` and its parent at
 * `parentPath`: relative_path from the child's folder, "\"-separated (left out
 * on Windows when the two are on different drives), and absolute_win32_path:
 * on Windows the parent's `\\?\C:\...` path; elsewhere a WSL drive path
 * (/mnt/c/...) written as Windows sees it, and any other absolute path as
 * this host writes it, which our reader and qemu-style tools on this host
 * follow when the relative path no longer leads there.
 */
export function parentLocatorPaths(
  childPath: string,
  parentPath: string,
  platform: NodeJS.Platform = process.platform,
): Record<string, string> {
  if (platform === "win32") {
    const parent = win32.resolve(parentPath);
    const fromChild = win32.relative(win32.dirname(win32.resolve(childPath)), parent);
    return {
      ...(win32.isAbsolute(fromChild) ? {} : { relative_path: fromChild }),
      absolute_win32_path: win32Absolute(parent),
    };
  }
  const parent = posix.resolve(parentPath);
  const fromChild = posix.relative(posix.dirname(posix.resolve(childPath)), parent);
  if (parent.includes("\\")) {
    throw invalidArgument(
      `the parent's path ${JSON.stringify(parent)} holds a backslash, which a locator's paths cannot express`,
    );
  }
  return { relative_path: fromChild.split("/").join("\\"), absolute_win32_path: windowsPathOfWsl(parent) ?? parent };
}

/** `/mnt/c/dir/base.vhdx` as `\\?\C:\dir\base.vhdx`; null for a path outside WSL's drive mounts. */
function windowsPathOfWsl(path: string): string | null {
  const match = /^\/mnt\/([a-z])\/(.*)$/.exec(path);
  return match === null ? null : `\\\\?\\${match[1]!.toUpperCase()}:\\${match[2]!.split("/").join("\\")}`;
}

/** `C:\dir\base.vhdx` as `\\?\C:\dir\base.vhdx`; UNC and `\\?\` paths as they are. */
function win32Absolute(path: string): string {
  return /^[A-Za-z]:\\/.test(path) ? `\\\\?\\${path}` : path;
}
