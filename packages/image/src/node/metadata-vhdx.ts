// Metadata edits of VHDX files by path: user metadata items, the parent of a
// differencing disk, the Virtual Disk ID and physical sector size. Each opens
// the file read-write (so locked against every other opener), edits it
// through the log and closes it.
import { resolve } from "node:path";
import { VhdxError } from "@vhdx/structs";
import { checkOptionKeys } from "../internal/options.js";
import {
  type DiskPropertiesOptions,
  type DiskPropertiesResult,
  setDiskProperties,
} from "../maintain/disk-properties.js";
import { type SetParentResult, setParent } from "../maintain/set-parent.js";
import { type SetUserMetadataOptions, removeUserMetadata, setUserMetadata } from "../maintain/user-metadata.js";
import { openChildToRelink } from "../open/open-image.js";
import type { ParentResolver } from "../open/parents.js";
import { parentLocatorPaths } from "./create-vhdx.js";
import { FileSource } from "./file-source.js";
import { openVhdx } from "./open-vhdx.js";

export interface SetVhdxParentOptions {
  /** Accept a parent whose DataWriteGuid is not the child's linkage, and relink (see setParent for the risk). */
  ignoreIdMismatch?: boolean;
  /** Let the new parent's own chain lead outside each child's folder (default false). */
  allowParentOutsideTree?: boolean;
}

/** The child's old locator paths are not followed: only the parent given is offered. */
const NO_LOCATOR_PATHS: ParentResolver = {
  locate: async () => [],
  openPath: async () => {
    throw new VhdxError("PARENT_NOT_FOUND", "set-parent offers only the parent it was given");
  },
};

/**
 * Points the differencing disk at `childPath` at the parent at `parentPath`
 * (Set-VHD -ParentPath): relative_path and absolute_win32_path as a new
 * child's locator would have them (see createVhdx); a volume_path, which
 * only Windows can compute, is dropped.
 */
export async function setVhdxParent(
  childPath: string,
  parentPath: string,
  options: SetVhdxParentOptions = {},
): Promise<SetParentResult> {
  checkOptionKeys("setVhdxParent", options, ["ignoreIdMismatch", "allowParentOutsideTree"]);
  const { ignoreIdMismatch = false, allowParentOutsideTree = false } = options;
  const parent = await openVhdx(parentPath, { allowParentOutsideTree });
  try {
    const paths = parentLocatorPaths(childPath, resolve(parentPath));
    const source = await FileSource.open(childPath, { readOnly: false });
    let child: Awaited<ReturnType<typeof openChildToRelink>>;
    try {
      child = await openChildToRelink(source, { readOnly: false, parents: [parent], parentResolver: NO_LOCATOR_PATHS });
    } catch (error) {
      await source.close().catch(() => undefined);
      throw error;
    }
    return await setParent(child, parent, { paths, ignoreIdMismatch });
  } catch (error) {
    throw VhdxError.isInstance(error) ? VhdxError.inFile(error, childPath) : error;
  } finally {
    await parent.close();
  }
}

/** Creates or replaces the user metadata item `itemId` of the VHDX at `path`. */
export async function setVhdxUserMetadata(
  path: string,
  itemId: string,
  data: Uint8Array,
  options: SetUserMetadataOptions = {},
): Promise<void> {
  const image = await openVhdx(path, { readOnly: false });
  try {
    await setUserMetadata(image, itemId, data, options);
  } finally {
    await image.close();
  }
}

/** Removes the user metadata item `itemId` of the VHDX at `path`; false when it has none. */
export async function removeVhdxUserMetadata(path: string, itemId: string): Promise<boolean> {
  const image = await openVhdx(path, { readOnly: false });
  try {
    return await removeUserMetadata(image, itemId);
  } finally {
    await image.close();
  }
}

/** A new Virtual Disk ID and/or physical sector size for the VHDX at `path` (Set-VHD). */
export async function setVhdxProperties(path: string, options: DiskPropertiesOptions): Promise<DiskPropertiesResult> {
  checkOptionKeys("setVhdxProperties", options, ["resetDiskId", "physicalSectorSize"]);
  return setDiskProperties(await openVhdx(path, { readOnly: false }), options);
}
