// Rewriting the metadata region (MS-VHDX 2.6.1) through the log: the one way
// user metadata, the parent locator, the Virtual Disk ID and the physical
// sector size are changed. Items that change are written to space no entry of
// the current table uses; only then is the table switched to them, in a log
// entry of its own (the table is 64 KiB, always one entry). A power cut
// before the switch leaves the old table over untouched items, one after it
// the new table. These edits keep DataWriteGuid: no reader of the virtual
// disk sees them, and a parent's children stay linked to it.
import {
  MAX_METADATA_ITEM_LENGTH,
  MAX_METADATA_TABLE_ENTRIES,
  MAX_USER_METADATA_ITEMS,
  METADATA_TABLE_SIZE,
  type MetadataTable,
  type MetadataTableEntry,
  VhdxError,
  assertValid,
  decodeMetadataTable,
  encodeMetadataTable,
  validateMetadataTable,
} from "@vhdx/structs";
import type { VhdxImage } from "../image.js";
import { commitStructures } from "../internal/maintenance.js";
import { readBytes } from "../sources/source.js";

const PAGE = 4096;
/** Items go at 4 KiB boundaries as Windows and QEMU place them, or, when the region has no such room, at 8 bytes. */
const ITEM_ALIGNMENTS = [PAGE, 8];

/** An item to write: its identity, flags and bytes. */
export interface MetadataItemValue {
  itemId: string;
  isUser: boolean;
  isVirtualDisk: boolean;
  isRequired: boolean;
  data: Uint8Array;
}

/** The metadata region as the file holds it now. */
export interface MetadataRegion {
  fileOffset: number;
  length: number;
  table: MetadataTable;
  /** The table's 64 KiB as found. */
  tableBytes: Uint8Array;
}

/** What to change: items to set (created or replaced by (itemId, isUser)) and items to remove. */
export interface MetadataEdit {
  set?: readonly MetadataItemValue[];
  remove?: readonly { itemId: string; isUser: boolean }[];
}

type Span = { start: number; end: number };
type PlannedEntry = MetadataTableEntry & { data?: Uint8Array };

const queues = new WeakMap<VhdxImage, Promise<unknown>>();

/** Runs `operation` after every metadata edit of `image` already under way: each reads the table the last one wrote. */
export function serialMetadataEdit<T>(image: VhdxImage, operation: () => Promise<T>): Promise<T> {
  const result = (queues.get(image) ?? Promise.resolve()).then(operation);
  queues.set(
    image,
    result.catch(() => undefined),
  );
  return result;
}

/** Reads the metadata table from the file (not the snapshot taken at open, which edits do not update). */
export async function readMetadataRegion(image: VhdxImage): Promise<MetadataRegion> {
  const { fileOffset, length } = image.layout.metadata;
  const tableBytes = await readBytes(image.source, fileOffset, METADATA_TABLE_SIZE, "metadata table");
  const table = decodeMetadataTable(tableBytes, 0, fileOffset);
  assertValid(
    validateMetadataTable(table, { regionLength: length }).filter((v) => v.rule !== "RESERVED"),
    { structure: "metadata table", offset: fileOffset },
  );
  return { fileOffset, length, table, tableBytes };
}

/** The bytes of one item of the region. */
export function readMetadataItem(
  image: VhdxImage,
  region: MetadataRegion,
  entry: MetadataTableEntry,
): Promise<Uint8Array> {
  if (entry.length === 0) return Promise.resolve(new Uint8Array(0));
  return readBytes(image.source, region.fileOffset + entry.offset, entry.length, "metadata item");
}

/**
 * Applies `edit` to the metadata region of `image` (opened read-write)
 * through the log; returns the new table's entries. Items not named keep
 * their place and bytes; the table's order is kept, new items go last.
 */
export async function editMetadataRegion(image: VhdxImage, edit: MetadataEdit): Promise<MetadataTableEntry[]> {
  if (image.readOnly)
    throw new VhdxError("READ_ONLY", `cannot change the metadata of ${image.source.name}: it is open read-only`);
  const region = await readMetadataRegion(image);
  const entries = plannedEntries(region.table.entries, edit);
  checkLimits(entries);
  place(entries, region);
  const itemPages = await pagesWithItems(image, region, entries);
  const table = encodeMetadataTable({
    signature: region.table.signature,
    reserved: region.table.reserved,
    reserved2: region.table.reserved2,
    entries: entries.map(({ data: _data, ...entry }) => entry),
  });
  const tablePages: { fileOffset: number; data: Uint8Array }[] = [];
  for (let page = 0; page < METADATA_TABLE_SIZE; page += PAGE) {
    const data = table.subarray(page, page + PAGE);
    if (!sameBytes(data, region.tableBytes.subarray(page, page + PAGE)))
      tablePages.push({ fileOffset: region.fileOffset + page, data });
  }
  if (itemPages.length > 0) await commitStructures(image, itemPages, false);
  if (tablePages.length > 0) await commitStructures(image, tablePages, false);
  return entries.map(({ data: _data, ...entry }) => entry);
}

const key = (itemId: string, isUser: boolean) => `${itemId.toLowerCase()}/${isUser ? "user" : "system"}`;

/** The new table's entries in order; those with `data` must be placed and written. */
function plannedEntries(current: readonly MetadataTableEntry[], edit: MetadataEdit): PlannedEntry[] {
  const removed = new Set((edit.remove ?? []).map((r) => key(r.itemId, r.isUser)));
  const setting = new Map((edit.set ?? []).map((item) => [key(item.itemId, item.isUser), item]));
  const entry = (item: MetadataItemValue): PlannedEntry => ({
    itemId: item.itemId.toLowerCase(),
    offset: 0,
    length: item.data.length,
    isUser: item.isUser,
    isVirtualDisk: item.isVirtualDisk,
    isRequired: item.isRequired,
    reserved: 0,
    reserved2: 0,
    data: item.data,
  });
  const entries: PlannedEntry[] = [];
  for (const old of current) {
    const id = key(old.itemId, old.isUser);
    if (removed.has(id)) continue;
    const item = setting.get(id);
    setting.delete(id);
    entries.push(item === undefined ? { ...old } : entry(item));
  }
  for (const item of setting.values()) entries.push(entry(item));
  return entries;
}

function checkLimits(entries: readonly PlannedEntry[]): void {
  if (entries.length > MAX_METADATA_TABLE_ENTRIES)
    throw outOfRange(
      `the metadata table would hold ${entries.length} items, at most ${MAX_METADATA_TABLE_ENTRIES} fit`,
    );
  const userItems = entries.filter((e) => e.isUser).length;
  if (userItems > MAX_USER_METADATA_ITEMS)
    throw outOfRange(
      `the image would hold ${userItems} user metadata items, at most ${MAX_USER_METADATA_ITEMS} are allowed`,
    );
  for (const entry of entries) {
    if (entry.length > MAX_METADATA_ITEM_LENGTH)
      throw outOfRange(`item ${entry.itemId} would be ${entry.length} bytes, a metadata item holds at most 1 MiB`);
  }
}

/** Gives each new item an offset in space no current entry uses (the current ones must survive a cut before the switch). */
function place(entries: PlannedEntry[], region: MetadataRegion): void {
  const used: Span[] = region.table.entries
    .filter((e) => e.length > 0)
    .map((e) => ({ start: e.offset, end: e.offset + e.length }));
  used.push({ start: 0, end: METADATA_TABLE_SIZE });
  for (const entry of entries) {
    if (entry.data === undefined || entry.length === 0) continue;
    const offset = freeOffset(used, entry.length, region.length);
    if (offset === null) {
      const free = region.length - used.reduce((sum, s) => sum + s.end - s.start, 0);
      throw outOfRange(
        `the ${region.length}-byte metadata region has no free run of ${entry.length} bytes for item ${entry.itemId} (${free} bytes are free in all)`,
      );
    }
    entry.offset = offset;
    used.push({ start: offset, end: offset + entry.length });
  }
}

function freeOffset(used: readonly Span[], length: number, regionLength: number): number | null {
  const sorted = [...used].sort((a, b) => a.start - b.start);
  for (const alignment of ITEM_ALIGNMENTS) {
    let at = METADATA_TABLE_SIZE;
    for (const span of sorted) {
      if (span.start >= at + length) break;
      if (span.end > at) at = Math.ceil(span.end / alignment) * alignment;
    }
    if (at + length <= regionLength) return at;
  }
  return null;
}

/** The 4 KiB pages the new items fall in, read from the file and overlaid with the items' bytes. */
async function pagesWithItems(image: VhdxImage, region: MetadataRegion, entries: readonly PlannedEntry[]) {
  const pages = new Map<number, Uint8Array>();
  const written = entries.filter((e) => e.data !== undefined && e.length > 0);
  for (const entry of written) {
    for (let page = Math.floor(entry.offset / PAGE) * PAGE; page < entry.offset + entry.length; page += PAGE) {
      if (!pages.has(page))
        pages.set(page, await readBytes(image.source, region.fileOffset + page, PAGE, "metadata region"));
    }
  }
  for (const entry of written) {
    for (const [page, bytes] of pages) {
      const from = Math.max(entry.offset, page);
      const to = Math.min(entry.offset + entry.length, page + PAGE);
      if (from < to) bytes.set(entry.data!.subarray(from - entry.offset, to - entry.offset), from - page);
    }
  }
  return [...pages].sort(([a], [b]) => a - b).map(([page, data]) => ({ fileOffset: region.fileOffset + page, data }));
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function outOfRange(detail: string): VhdxError {
  return new VhdxError("OUT_OF_RANGE", detail, { structure: "metadata table" });
}
