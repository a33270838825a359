// User metadata items (MS-VHDX 2.6.1.2, IsUser set): a caller's own values
// under GUIDs of its choosing, kept in the metadata region. Listing and
// reading work on any image; setting and removing need a read-write one and
// go through the log (metadata-region.ts). Rules kept: at most 1024 user
// items, each at most 1 MiB, and the region must have room. A user item is
// never written IsRequired: a reader must refuse a file with a required item
// it does not understand, and no reader understands a user's GUID, so the
// disk would open nowhere (ours refuses it with UNKNOWN_REQUIRED_METADATA).
import { isGuid, isNilGuid, normalizeGuid } from "@vhdx/guid";
import { KNOWN_METADATA_ITEM_GUIDS, MAX_METADATA_ITEM_LENGTH, VhdxError, findMetadataEntry } from "@vhdx/structs";
import type { VhdxImage } from "../image.js";
import { checkOptionKeys } from "../internal/options.js";
import {
  type MetadataItemValue,
  editMetadataRegion,
  readMetadataItem,
  readMetadataRegion,
  serialMetadataEdit,
} from "./metadata-region.js";

export interface UserMetadataItem {
  /** The item's GUID, lower case. */
  itemId: string;
  length: number;
  /** IsVirtualDisk: the value describes the virtual disk (kept by a conversion) rather than this file. */
  isVirtualDisk: boolean;
  /** IsRequired as found (never set by this library). */
  isRequired: boolean;
}

export interface SetUserMetadataOptions {
  /** IsVirtualDisk (default: as the item being replaced has it, else false). */
  isVirtualDisk?: boolean;
}

/** The user items of the image, in table order, as the file holds them now. */
export async function listUserMetadata(image: VhdxImage): Promise<UserMetadataItem[]> {
  const { table } = await readMetadataRegion(image);
  return table.entries
    .filter((entry) => entry.isUser)
    .map(({ itemId, length, isVirtualDisk, isRequired }) => ({
      itemId: itemId.toLowerCase(),
      length,
      isVirtualDisk,
      isRequired,
    }));
}

/** The bytes of the user item `itemId`, or null when the image has none. */
export async function getUserMetadata(image: VhdxImage, itemId: string): Promise<Uint8Array | null> {
  const id = userItemId(itemId);
  const region = await readMetadataRegion(image);
  const entry = findMetadataEntry(region.table, id, true);
  return entry === undefined ? null : readMetadataItem(image, region, entry);
}

/** Creates or replaces the user item `itemId` with `data`, through the log. */
export async function setUserMetadata(
  image: VhdxImage,
  itemId: string,
  data: Uint8Array,
  options: SetUserMetadataOptions = {},
): Promise<void> {
  checkOptionKeys("setUserMetadata", options, ["isVirtualDisk"]);
  const id = userItemId(itemId);
  if (!(data instanceof Uint8Array)) throw new TypeError("setUserMetadata: data must be a Uint8Array");
  if (options.isVirtualDisk !== undefined && typeof options.isVirtualDisk !== "boolean")
    throw new TypeError("setUserMetadata: isVirtualDisk must be a boolean");
  if (data.length > MAX_METADATA_ITEM_LENGTH) {
    throw new VhdxError("OUT_OF_RANGE", `a user metadata item holds at most 1 MiB; got ${data.length} bytes`, {
      structure: "metadata table",
    });
  }
  return serialMetadataEdit(image, async () => {
    const current = findMetadataEntry((await readMetadataRegion(image)).table, id, true);
    const isVirtualDisk = options.isVirtualDisk ?? current?.isVirtualDisk ?? false;
    const item = { itemId: id, isUser: true, isVirtualDisk, isRequired: false, data: data.slice() };
    await editMetadataRegion(image, { set: [item] });
  });
}

/** Removes the user item `itemId` through the log; false when the image has none. */
export async function removeUserMetadata(image: VhdxImage, itemId: string): Promise<boolean> {
  const id = userItemId(itemId);
  return serialMetadataEdit(image, async () => {
    if (findMetadataEntry((await readMetadataRegion(image)).table, id, true) === undefined) return false;
    await editMetadataRegion(image, { remove: [{ itemId: id, isUser: true }] });
    return true;
  });
}

/** `itemId` normalized; INVALID_ARGUMENT for text that is not a GUID, the nil GUID, or a system item's GUID. */
function userItemId(itemId: string): string {
  if (typeof itemId !== "string") throw new TypeError("user metadata: itemId must be a GUID string");
  if (!isGuid(itemId))
    throw new VhdxError(
      "INVALID_ARGUMENT",
      `${JSON.stringify(itemId)} is not a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)`,
    );
  const id = normalizeGuid(itemId);
  if (isNilGuid(id)) throw new VhdxError("INVALID_ARGUMENT", "the nil GUID cannot name a user metadata item");
  if (KNOWN_METADATA_ITEM_GUIDS.includes(id)) {
    throw new VhdxError(
      "INVALID_ARGUMENT",
      `${id} is the GUID of a system metadata item; a user item needs a GUID of its own`,
    );
  }
  return id;
}

/**
 * Copies every user item of `from` into `to` (opened read-write) in one
 * edit, replacing items of the same GUID (convert); returns how many.
 */
export async function copyUserMetadata(from: VhdxImage, to: VhdxImage): Promise<number> {
  const region = await readMetadataRegion(from);
  const set: MetadataItemValue[] = [];
  for (const entry of region.table.entries) {
    if (!entry.isUser) continue;
    const data = await readMetadataItem(from, region, entry);
    set.push({ itemId: entry.itemId, isUser: true, isVirtualDisk: entry.isVirtualDisk, isRequired: false, data });
  }
  if (set.length > 0) await serialMetadataEdit(to, () => editMetadataRegion(to, { set }));
  return set.length;
}
