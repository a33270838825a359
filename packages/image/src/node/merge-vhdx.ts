// Merging a differencing VHDX file into its parent file (Hyper-V's Merge-VHD):
// the child's own data is written into the parent, then the child is removed
// (or, with keep, its parent locator is given the parent's new DataWriteGuid).
//
// Not atomic. The order is: write and flush the parent, close it, then remove
// the child (or rewrite the kept child's locator through its log). A merge that
// stops before the end leaves a consistent parent holding part of the child's
// data, and a child that no longer opens (its parent_linkage is the parent's
// old DataWriteGuid). Resuming such a merge is not supported.
//
// Both files are locked as read-write opens are (the parent's own parents as
// readers): the child is read first only to learn which file its parent is,
// then the parent is opened for writing, then the child, given that parent.
import { rm } from "node:fs/promises";
import { resolve } from "node:path";
import { normalizeGuid } from "@vhdx/guid";
import {
  PARENT_LOCATOR_GUID,
  type ParentLocator,
  VhdxError,
  encodeParentLocator,
  findMetadataEntry,
} from "@vhdx/structs";
import type { VhdxImage } from "../image.js";
import { commitStructures } from "../internal/maintenance.js";
import { checkOptionKeys } from "../internal/options.js";
import { type MergeProgress, mergeIntoParent } from "../maintain/merge.js";
import { openImageOwningSource } from "../open/open-image.js";
import { readExactly } from "../sources/source.js";
import { FileSource } from "./file-source.js";
import { openVhdx } from "./open-vhdx.js";

export interface MergeVhdxOptions {
  /** Keep the child, its locator updated to the parent's new DataWriteGuid (default: remove it). */
  keep?: boolean;
  /** Let the chain's locators lead outside each child's folder (default false). */
  allowParentOutsideTree?: boolean;
  onProgress?: (progress: MergeProgress) => void;
}

export interface MergeVhdxResult {
  /** The child's path, resolved. */
  child: string;
  /** The parent's path: the merged result. */
  parent: string;
  bytesCopied: number;
  bytesZeroed: number;
  childRemoved: boolean;
  /** The parent's DataWriteGuid after the merge. */
  parentDataWriteGuid: string;
}

const PAGE = 4096;
const OPTION_KEYS = ["keep", "allowParentOutsideTree", "onProgress"] as const;

/**
 * Writes the differencing disk at `childPath` into its parent file. The child
 * is removed afterwards unless `keep` is set; a kept child is relinked to the
 * parent's new DataWriteGuid and reads as before.
 */
export async function mergeVhdx(childPath: string, options: MergeVhdxOptions = {}): Promise<MergeVhdxResult> {
  if (typeof childPath !== "string" || childPath === "")
    throw new TypeError("mergeVhdx: childPath must be a non-empty string");
  checkOptionKeys("mergeVhdx", options, OPTION_KEYS);
  const keep = options.keep === true;
  const allowParentOutsideTree = options.allowParentOutsideTree ?? false;
  const parentPath = await parentFileOf(childPath, allowParentOutsideTree);
  let parent: VhdxImage | null = await openVhdx(parentPath, { readOnly: false, allowParentOutsideTree });
  let child: VhdxImage;
  try {
    child = await openChildOf(childPath, parent, allowParentOutsideTree);
  } catch (error) {
    await parent.close().catch(() => undefined);
    throw error;
  }
  try {
    // Refuse --keep before the parent is touched when the new locator could not be written in place.
    if (keep) relinkedLocator(child, "00000000-0000-0000-0000-000000000000");
    const { bytesCopied, bytesZeroed } = await mergeIntoParent(
      child,
      parent,
      options.onProgress ? { onProgress: options.onProgress } : {},
    );
    await parent.close();
    const parentDataWriteGuid = parent.dataWriteGuid;
    parent = null;
    if (keep) {
      if (!linkedTo(child, parentDataWriteGuid)) {
        const { fileOffset, bytes } = relinkedLocator(child, parentDataWriteGuid);
        const first = Math.floor(fileOffset / PAGE) * PAGE;
        const end = Math.ceil((fileOffset + bytes.length) / PAGE) * PAGE;
        const pages = new Uint8Array(end - first);
        await readExactly(child.source, pages, first, "parent locator");
        pages.set(bytes, fileOffset - first);
        const updates = [];
        for (let at = 0; at < pages.length; at += PAGE)
          updates.push({ fileOffset: first + at, data: pages.subarray(at, at + PAGE) });
        await commitStructures(child, updates);
      }
      await child.close();
      // The kept child must open on the merged parent.
      const check = await openVhdx(childPath, { allowParentOutsideTree });
      await check.close();
    } else {
      await child.close();
      await rm(childPath);
    }
    return {
      child: resolve(childPath),
      parent: resolve(parentPath),
      bytesCopied,
      bytesZeroed,
      childRemoved: !keep,
      parentDataWriteGuid,
    };
  } finally {
    await parent?.close().catch(() => undefined);
    await child.close().catch(() => undefined);
  }
}

/** The path of the child's parent file, from a read-only open of the child that is closed again. */
async function parentFileOf(childPath: string, allowParentOutsideTree: boolean): Promise<string> {
  const child = await openVhdx(childPath, { allowParentOutsideTree });
  try {
    if (child.parent === null) {
      throw new VhdxError(
        "INVALID_ARGUMENT",
        `merge: ${childPath} is a ${child.diskType} disk, not a differencing disk: it has no parent to merge into`,
      );
    }
    const parentPath = filePath(child.parent);
    if (resolve(parentPath) === resolve(childPath))
      throw new VhdxError("PARENT_LOOP", `merge: ${childPath} is its own parent`);
    return parentPath;
  } finally {
    await child.close();
  }
}

/**
 * The child opened read-write on the parent already open for writing (a
 * second, read-only open of the parent through the locator would meet our
 * own write lock). PARENT_LINKAGE_MISMATCH if the child changed meanwhile.
 */
async function openChildOf(childPath: string, parent: VhdxImage, allowParentOutsideTree: boolean): Promise<VhdxImage> {
  const source = await FileSource.open(childPath, { readOnly: false });
  try {
    return await openImageOwningSource(source, { readOnly: false, parents: [parent], allowParentOutsideTree });
  } catch (error) {
    await source.close().catch(() => undefined);
    throw error;
  }
}

/** The file a parent image was opened from (its source, or the source under a replay overlay). */
function filePath(image: VhdxImage): string {
  const name = image.source.name;
  if (image.source instanceof FileSource) return name;
  const suffix = " (log replayed in memory)";
  return name.endsWith(suffix) ? name.slice(0, -suffix.length) : name;
}

function linkedTo(child: VhdxImage, dataWriteGuid: string): boolean {
  const locator = child.parentLocator ?? {};
  return (
    locator.parent_linkage !== undefined &&
    safeNormalize(locator.parent_linkage) === normalizeGuid(dataWriteGuid) &&
    locator.parent_linkage2 === undefined
  );
}

function safeNormalize(text: string): string | null {
  try {
    return normalizeGuid(text);
  } catch {
    return null;
  }
}

/**
 * The child's parent locator item with parent_linkage set to `dataWriteGuid`
 * and parent_linkage2 dropped, padded with zeros to the item's length, and
 * where the item lies in the file. UNSUPPORTED when it would not fit.
 */
function relinkedLocator(child: VhdxImage, dataWriteGuid: string): { fileOffset: number; bytes: Uint8Array } {
  const { table, regionOffset, parentLocator } = child.metadata;
  const entry = findMetadataEntry(table, PARENT_LOCATOR_GUID);
  if (entry === undefined || parentLocator === null) {
    throw new VhdxError("MISSING_METADATA", `merge: ${child.source.name} has no parent locator item`);
  }
  const entries: Record<string, string> = {};
  entries.parent_linkage = `{${normalizeGuid(dataWriteGuid)}}`;
  for (const [key, value] of Object.entries(parentLocator.entries)) {
    if (key === "parent_linkage" || key === "parent_linkage2") continue;
    Object.defineProperty(entries, key, { value, enumerable: true, writable: true, configurable: true });
  }
  const locator: ParentLocator = {
    locatorType: parentLocator.locatorType,
    entries,
    reserved: parentLocator.reserved ?? 0,
  };
  const encoded = encodeParentLocator(locator);
  if (encoded.length > entry.length) {
    throw new VhdxError(
      "UNSUPPORTED",
      `merge --keep: the relinked parent locator (${encoded.length} bytes) does not fit in ${child.source.name}'s ${entry.length}-byte item; merge without --keep`,
    );
  }
  const bytes = new Uint8Array(entry.length);
  bytes.set(encoded);
  return { fileOffset: regionOffset + entry.offset, bytes };
}
