// Creating a VHDX image in an empty source (MS-VHDX 2.1 to 2.6; the layout is
// in create-layout.ts). Everything but the header section is written and
// flushed first, then the file identifier and both headers, then a flush: a
// creation cut short leaves a file with no valid header, never a VHDX whose
// header points at structures that are not there yet.
import {
  HEADER_1_OFFSET,
  HEADER_2_OFFSET,
  KNOWN_METADATA_ITEM_GUIDS,
  MiB,
  REGION_TABLE_1_OFFSET,
  REGION_TABLE_2_OFFSET,
} from "@vhdx/structs";
import type { VhdxImage } from "../image.js";
import { checkOptionKeys } from "../internal/options.js";
import { openImage } from "../open/open-image.js";
import { type RandomAccessSource, readBytes, readOnlyError } from "../sources/source.js";
import {
  type CreateLayout,
  type NewMetadataItem,
  encodeHeaderSection,
  encodeMetadataRegion,
  fillFixedBat,
  metadataItems,
  planLayout,
} from "./create-layout.js";
import {
  CREATE_OPTION_KEYS,
  type CreateOptions,
  type CreatePlan,
  invalidArgument,
  resolveCreateOptions,
} from "./create-options.js";

/** BAT bytes written at a time for a fixed disk. */
const BAT_CHUNK = MiB;

/**
 * Writes a new VHDX image into `source`, which must be empty and writable, and
 * returns it opened read-write. A differencing disk's parent is the opened
 * image in `options.parent`; the returned image reads through it. As with
 * openImage, `image.close()` ends the write session but leaves `source` and
 * the parent open: both are the caller's to close.
 */
export async function createImage(source: RandomAccessSource, options: CreateOptions): Promise<VhdxImage> {
  checkSource(source);
  checkOptionKeys("createImage", options, CREATE_OPTION_KEYS);
  const plan = resolveCreateOptions(options);
  await writeNewImage(source, plan);
  return openImage(source, { readOnly: false, ...(plan.parent === null ? {} : { parents: [plan.parent] }) });
}

function checkSource(source: RandomAccessSource): void {
  const methods = ["read", "write", "flush", "size", "truncate", "close"] as const;
  if (typeof source !== "object" || source === null || methods.some((m) => typeof source[m] !== "function")) {
    throw new TypeError("create: source must be a RandomAccessSource");
  }
}

/** Lays the new file out in `source` and flushes it; the source stays open. */
export async function writeNewImage(source: RandomAccessSource, plan: CreatePlan): Promise<CreateLayout> {
  if (source.readOnly) throw readOnlyError(source.name, "create an image");
  const existing = await source.size();
  if (existing !== 0)
    throw invalidArgument(
      `${source.name} already holds ${existing} bytes; an image is created only in an empty source`,
    );
  const inherited = plan.parent === null ? [] : await inheritedItems(plan.parent);
  const metadata = encodeMetadataRegion(metadataItems(plan, inherited));
  const layout = planLayout(plan, metadata.length);
  const section = encodeHeaderSection(plan, layout);

  await source.truncate(layout.fileSize);
  await source.write(metadata, layout.metadataOffset);
  if (plan.type === "fixed") await writeFixedBat(source, layout);
  await source.write(section.regionTable, REGION_TABLE_1_OFFSET);
  await source.write(section.regionTable, REGION_TABLE_2_OFFSET);
  await source.flush();
  await source.write(section.fileIdentifier, 0);
  await source.write(section.header1, HEADER_1_OFFSET);
  await source.write(section.header2, HEADER_2_OFFSET);
  await source.flush();
  return layout;
}

async function writeFixedBat(source: RandomAccessSource, layout: CreateLayout): Promise<void> {
  const { batByteLength } = layout.geometry;
  const chunk = new Uint8Array(Math.min(BAT_CHUNK, batByteLength));
  for (let done = 0; done < batByteLength; done += chunk.length) {
    const length = Math.min(chunk.length, batByteLength - done);
    fillFixedBat(chunk, done / 8, layout);
    await source.write(chunk.subarray(0, length), layout.batOffset + done);
  }
}

/**
 * The parent's IsVirtualDisk items that are not the system items written
 * anew (user items, and optional system items this code does not know):
 * forking a differencing disk copies them (MS-VHDX 2.6.1.2).
 */
async function inheritedItems(parent: VhdxImage): Promise<NewMetadataItem[]> {
  const known = new Set(KNOWN_METADATA_ITEM_GUIDS);
  const items: NewMetadataItem[] = [];
  for (const entry of parent.metadata.table.entries) {
    if (!entry.isVirtualDisk || (!entry.isUser && known.has(entry.itemId.toLowerCase()))) continue;
    const at = parent.metadata.regionOffset + entry.offset;
    const data =
      entry.length === 0 ? new Uint8Array(0) : await readBytes(parent.source, at, entry.length, "parent metadata item");
    const { itemId, isUser, isVirtualDisk, isRequired } = entry;
    items.push({ itemId, isUser, isVirtualDisk, isRequired, data });
  }
  return items;
}
