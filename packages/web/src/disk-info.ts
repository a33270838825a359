// What `vhdx info` shows of an image, as HTML: type, sizes, identity, log,
// regions, metadata items, the parent locator and the chain of layers. From
// the header section and the metadata alone, like the command.
import type { VhdxImage } from "@vhdx/image";
import { h, table } from "./dom.js";
import { formatSize, hex } from "./format.js";

// MS-VHDX 2.2.3.1 and 2.6.2: the GUIDs of the known regions and metadata items.
const REGION_NAMES: Record<string, string> = {
  "2dc27766-f623-4200-9d64-115e9bfd4a08": "BAT",
  "8b7ca206-4790-4b9a-b8fe-575f050f886e": "metadata",
};
const ITEM_NAMES: Record<string, string> = {
  "caa16737-fa36-4d43-b3b6-33f0aa44e76b": "file parameters",
  "2fa54224-cd1b-4876-b211-5dbed83bf4b8": "virtual disk size",
  "beca12ab-b2e6-4523-93ef-c309e000c746": "virtual disk id",
  "8141bf1d-a96f-4709-ba47-f233a8faab5f": "logical sector size",
  "cda348c7-445d-4471-9cc9-e9885251c556": "physical sector size",
  "a8d35f2d-b30b-454d-abf7-d3d84834ab0c": "parent locator",
};

/** The images of the chain, the leaf first. */
export function chainOf(image: VhdxImage): VhdxImage[] {
  const layers: VhdxImage[] = [];
  for (let layer: VhdxImage | null = image; layer !== null; layer = layer.parent) layers.push(layer);
  return layers;
}

/** Why the chain stops short: the deepest image's parent problem, or null. */
function chainProblem(image: VhdxImage): string | null {
  const deepest = chainOf(image).at(-1)!;
  const error = deepest.parentError;
  return error === null ? null : `${error.code}: ${error.message}`;
}

/** The properties list, with a data-field attribute on each value for tests and scripts. */
export function renderProperties(image: VhdxImage, fileSize: number): HTMLElement {
  const log = image.needsReplay
    ? `needs replay (LogGuid ${image.logGuid}); shown replayed in memory, the file is untouched`
    : "clean";
  const rows: [string, string, string][] = [
    ["type", "type", image.diskType],
    ["virtual-size", "virtual size", `${formatSize(image.virtualSize)} (${image.virtualSize} bytes)`],
    ["block-size", "block size", formatSize(image.blockSize)],
    ["sector-size", "sector size", `${image.logicalSectorSize} logical, ${image.physicalSectorSize} physical`],
    ["file-size", "file size", formatSize(fileSize)],
    ["virtual-disk-id", "virtual disk id", image.virtualDiskId],
    ["data-write-guid", "data write guid", image.dataWriteGuid],
    ["file-write-guid", "file write guid", image.fileWriteGuid],
    ["creator", "creator", image.creator || "(none)"],
    ["log", "log", log],
  ];
  const problem = chainProblem(image);
  if (problem !== null) rows.push(["parent-problem", "parent problem", problem]);
  return h(
    "dl",
    { class: "properties" },
    ...rows.flatMap(([field, label, value]) => [h("dt", {}, label), h("dd", { "data-field": field }, value)]),
  );
}

export function renderRegions(image: VhdxImage): HTMLTableElement {
  return table(
    "Regions",
    ["name", "offset", "length", "required", "GUID"],
    image.regionTable.entries.map((entry) => [
      REGION_NAMES[entry.guid] ?? "unknown",
      hex(entry.fileOffset),
      formatSize(entry.length),
      entry.required ? "required" : "optional",
      h("code", {}, entry.guid),
    ]),
  );
}

export function renderMetadataItems(image: VhdxImage): HTMLTableElement {
  return table(
    "Metadata items",
    ["name", "offset", "length", "flags", "item id"],
    image.metadata.table.entries.map((entry) => [
      entry.isUser ? "user" : (ITEM_NAMES[entry.itemId] ?? "unknown"),
      hex(entry.offset),
      `${entry.length} bytes`,
      [entry.isUser && "user", entry.isVirtualDisk && "virtual-disk", entry.isRequired && "required"]
        .filter(Boolean)
        .join(", "),
      h("code", {}, entry.itemId),
    ]),
  );
}

/** The layers of the chain (the file opened first), each with its file name and ids; and the parent locator. */
export function renderChain(image: VhdxImage): HTMLElement {
  const layers = chainOf(image);
  const list = table(
    null,
    ["layer", "file", "type", "virtual disk id", "data write guid"],
    layers.map((layer, depth) => [
      depth === 0 ? "this disk" : `parent ${depth}`,
      layer.source.name,
      layer.diskType,
      h("code", {}, layer.virtualDiskId),
      h("code", {}, layer.dataWriteGuid),
    ]),
  );
  list.dataset.layers = String(layers.length);
  const locator = image.parentLocator;
  if (locator === null) return list;
  const entries = table(
    "Parent locator",
    ["key", "value"],
    Object.entries(locator).map(([key, value]) => [key, h("code", {}, value)]),
  );
  return h("div", {}, list, entries);
}
