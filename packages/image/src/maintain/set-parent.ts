// Pointing a differencing disk at its parent's new place (Hyper-V's Set-VHD
// -ParentPath, qemu-img rebase -u): the parent locator item (MS-VHDX
// 2.6.2.6) gets new path keys, through the log (metadata-region.ts). The
// parent must be the one the child was made on: its DataWriteGuid must be the
// child's parent_linkage (or parent_linkage2), else PARENT_LINKAGE_MISMATCH.
//
// ignoreIdMismatch (Hyper-V's IgnoreIdMismatch) accepts another parent and
// writes its DataWriteGuid as parent_linkage (parent_linkage2 dropped). The
// risk: the child records only the sectors it wrote itself; every other
// sector reads from the parent, so a parent that is not the very disk the
// child was made on (a copy written to since, a different disk of the same
// size) gives a virtual disk that mixes two disks' data: a file system on it
// can be corrupt, silently. Nothing can check it afterwards; the linkage now
// vouches for the new parent. The child's own DataWriteGuid is kept, so its
// own children stay linked to it and read through the new parent too.
import { guidEquals, normalizeGuid } from "@vhdx/guid";
import {
  MAX_METADATA_ITEM_LENGTH,
  PARENT_LOCATOR_GUID,
  PARENT_PATH_KEYS,
  VhdxError,
  decodeParentLocator,
  encodeParentLocator,
  findMetadataEntry,
} from "@vhdx/structs";
import type { VhdxImage } from "../image.js";
import { checkOptionKeys } from "../internal/options.js";
import { linkageGuids } from "../open/parents.js";
import { editMetadataRegion, readMetadataItem, readMetadataRegion, serialMetadataEdit } from "./metadata-region.js";

export interface SetParentOptions {
  /**
   * The locator's path keys for the parent's new place: any of relative_path
   * (from the child's folder, "\"-separated), volume_path and
   * absolute_win32_path. Every path key the locator had is replaced by these.
   */
  paths: Readonly<Record<string, string>>;
  /** Accept a parent whose DataWriteGuid is not the linkage, and make it the linkage (see the risk above). */
  ignoreIdMismatch?: boolean;
}

export interface SetParentResult {
  oldLocator: Record<string, string>;
  newLocator: Record<string, string>;
  /** parent_linkage was set to the new parent's DataWriteGuid (ignoreIdMismatch, with a parent that did not match). */
  linkageChanged: boolean;
}

const LINKAGE_KEYS = new Set(["parent_linkage", "parent_linkage2"]);

/**
 * Rewrites the parent locator of `child` (a differencing image opened
 * read-write, with or without its parent) to name `parent`, then closes the
 * child (its in-memory view is stale). `parent` stays the caller's.
 */
export async function setParent(
  child: VhdxImage,
  parent: VhdxImage,
  options: SetParentOptions,
): Promise<SetParentResult> {
  try {
    checkOptionKeys("setParent", options, ["paths", "ignoreIdMismatch"]);
    checkPair(child, parent);
    const paths = checkedPaths(options.paths);
    return await serialMetadataEdit(child, async () => {
      const region = await readMetadataRegion(child);
      const entry = findMetadataEntry(region.table, PARENT_LOCATOR_GUID);
      if (entry === undefined)
        throw new VhdxError("MISSING_METADATA", `${child.source.name} has no parent locator item`);
      const bytes = await readMetadataItem(child, region, entry);
      const locator = decodeParentLocator(bytes, 0, region.fileOffset + entry.offset);
      const oldLocator = { ...locator.entries };
      const matches = linksTo(oldLocator, parent.dataWriteGuid);
      if (!matches && options.ignoreIdMismatch !== true) throw mismatch(child, parent, oldLocator);
      const newLocator = relinked(oldLocator, paths, matches ? null : parent.dataWriteGuid);
      const data = encodeParentLocator({ ...locator, entries: newLocator });
      if (data.length > MAX_METADATA_ITEM_LENGTH)
        throw new VhdxError("OUT_OF_RANGE", `the new parent locator would be ${data.length} bytes, over 1 MiB`);
      const { isVirtualDisk, isRequired } = entry;
      await editMetadataRegion(child, {
        set: [{ itemId: PARENT_LOCATOR_GUID, isUser: false, isVirtualDisk, isRequired, data }],
      });
      return { oldLocator, newLocator, linkageChanged: !matches };
    });
  } finally {
    await child.close();
  }
}

function checkPair(child: VhdxImage, parent: VhdxImage): void {
  if (child.readOnly)
    throw new VhdxError("READ_ONLY", `cannot change the parent of ${child.source.name}: it is open read-only`);
  if (child.diskType !== "differencing")
    throw new VhdxError(
      "UNSUPPORTED",
      `${child.source.name} is a ${child.diskType} disk; only a differencing disk has a parent`,
    );
  const refuse = (detail: string) => new VhdxError("PARENT_LINKAGE_MISMATCH", detail, { structure: "parent locator" });
  if (parent.logicalSectorSize !== child.logicalSectorSize)
    throw refuse(
      `${parent.source.name} has ${parent.logicalSectorSize}-byte logical sectors, the child ${child.logicalSectorSize}`,
    );
  if (parent.virtualSize !== child.virtualSize)
    throw refuse(`${parent.source.name} is ${parent.virtualSize} bytes, the child ${child.virtualSize}`);
  for (let image: VhdxImage | null = parent; image !== null; image = image.parent) {
    if (image.source === child.source || guidEquals(image.dataWriteGuid, child.dataWriteGuid))
      throw new VhdxError("PARENT_LOOP", `${child.source.name} would be its own parent`, {
        structure: "parent locator",
      });
  }
}

function checkedPaths(paths: Readonly<Record<string, string>>): Record<string, string> {
  if (typeof paths !== "object" || paths === null) throw new TypeError("setParent: paths must be an object of strings");
  const keys = Object.keys(paths);
  if (!keys.some((key) => PARENT_PATH_KEYS.includes(key)))
    throw new VhdxError("INVALID_ARGUMENT", `setParent: paths needs one of ${PARENT_PATH_KEYS.join(", ")}`);
  const checked: Record<string, string> = {};
  for (const key of PARENT_PATH_KEYS) {
    const value = paths[key];
    if (value === undefined) continue;
    if (typeof value !== "string" || value === "" || value.includes("\0"))
      throw new VhdxError("INVALID_ARGUMENT", `setParent: ${key} must be a non-empty string without NULs`);
    checked[key] = value;
  }
  const unknown = keys.find((key) => !PARENT_PATH_KEYS.includes(key));
  if (unknown !== undefined)
    throw new VhdxError("INVALID_ARGUMENT", `setParent: ${JSON.stringify(unknown)} is not a locator path key`);
  return checked;
}

function linksTo(locator: Readonly<Record<string, string>>, dataWriteGuid: string): boolean {
  try {
    return linkageGuids(locator).some((linkage) => guidEquals(linkage, dataWriteGuid));
  } catch {
    return false; // no usable linkage: nothing matches it
  }
}

function mismatch(child: VhdxImage, parent: VhdxImage, locator: Readonly<Record<string, string>>): VhdxError {
  const linkage = [locator.parent_linkage, locator.parent_linkage2].filter((g) => g !== undefined).join(" or ");
  return new VhdxError(
    "PARENT_LINKAGE_MISMATCH",
    `${parent.source.name} has DataWriteGuid {${normalizeGuid(parent.dataWriteGuid)}}, but ${child.source.name} was made on ${linkage || "no valid linkage"}: it is not the parent the child was made on, or it was written to since (ignoring the mismatch risks a corrupt disk)`,
    { structure: "parent locator" },
  );
}

/** Linkage keys first (parent_linkage replaced when `newLinkage` is given), other keys as they were, then the new paths. */
function relinked(
  locator: Readonly<Record<string, string>>,
  paths: Readonly<Record<string, string>>,
  newLinkage: string | null,
): Record<string, string> {
  const entries: Record<string, string> = {};
  const put = (key: string, value: string) =>
    Object.defineProperty(entries, key, { value, enumerable: true, writable: true, configurable: true });
  if (newLinkage !== null) put("parent_linkage", `{${normalizeGuid(newLinkage)}}`);
  else for (const key of LINKAGE_KEYS) if (locator[key] !== undefined) put(key, locator[key]);
  for (const [key, value] of Object.entries(locator)) {
    if (!LINKAGE_KEYS.has(key) && !PARENT_PATH_KEYS.includes(key)) put(key, value);
  }
  for (const [key, value] of Object.entries(paths)) put(key, value);
  return entries;
}
