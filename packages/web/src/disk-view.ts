// One opened disk on the page: what `vhdx info` shows, the chain, the check's
// findings, the allocation picture, the partition table, and saving the
// virtual disk as raw. The slow parts (check, walk) fill in as they finish;
// each section says when it failed, and none leaves the page stuck.
import { type RandomAccessSource, type VhdxImage, checkImage, readPartitionTable } from "@vhdx/image";
import { summariseAllocation } from "./allocation.js";
import { renderAllocation } from "./allocation-view.js";
import { chainOf, renderChain, renderMetadataItems, renderProperties, renderRegions } from "./disk-info.js";
import { errorText, h } from "./dom.js";
import { renderFindings } from "./findings-view.js";
import { renderPartitions } from "./partitions-view.js";
import { saveOutput } from "./save-raw.js";
import { startTask } from "./task.js";

export interface OpenedDisk {
  image: VhdxImage;
  /** The name shown (a file name or a URL). */
  name: string;
  /** A fresh source over the same file, for checkImage (which reads the file as it is, log included). */
  checkSource(): RandomAccessSource;
}

export function renderDisk(disk: OpenedDisk, onClose: () => void): HTMLElement {
  const { image } = disk;
  const layers = chainOf(image);
  const heading = `${disk.name}${layers.length > 1 ? ` (and ${layers.length - 1} parent${layers.length > 2 ? "s" : ""})` : ""}`;
  const saveArea = h("div", { class: "task" });
  const saveButton = h("button", { type: "button" }, "Save as raw");
  const closeButton = h("button", { type: "button", class: "secondary" }, "Close");
  const walk = new AbortController();
  saveButton.addEventListener("click", () => saveRaw(disk, saveArea));
  closeButton.addEventListener("click", () => {
    walk.abort();
    onClose();
  });
  const properties = section("properties", "What it is", h("p", {}, "Reading…"));
  const check = section("check", "Check", h("p", {}, "Checking every structure…"));
  const allocation = section("allocation", "Allocation", h("p", {}, "Walking the block allocation table…"));
  const partitions = section("partitions", "Partition table", h("p", {}, "Reading…"));
  const structures = h(
    "details",
    { class: "structures" },
    h("summary", {}, "Regions and metadata items"),
    renderRegions(image),
    renderMetadataItems(image),
  );
  const article = h(
    "article",
    { class: "disk", "aria-label": disk.name },
    h("header", {}, h("h2", {}, heading), h("div", { class: "actions" }, saveButton, closeButton)),
    saveArea,
    h(
      "div",
      { class: "columns" },
      h("div", {}, properties, section("chain", "Chain", renderChain(image)), check, structures),
      h("div", {}, allocation, partitions),
    ),
  );
  void fill(properties, async () => renderProperties(image, await image.source.size()));
  void fill(partitions, async () => renderPartitions(await readPartitionTable(image)));
  void fill(allocation, () => drawAllocation(image, layers, allocation, walk.signal));
  void fill(check, async () => renderFindings(await checkImage(disk.checkSource(), { parents: layers.slice(1) })));
  return article;
}

function section(name: string, title: string, body: Node): HTMLElement {
  return h(
    "section",
    { class: `part ${name}-part`, "data-section": name, "data-status": "working" },
    h("h3", {}, title),
    body,
  );
}

/** Replaces the section's body with what `make` builds, or with its error; marks it done either way. */
async function fill(target: HTMLElement, make: () => Promise<Node>): Promise<void> {
  let body: Node;
  try {
    body = await make();
    target.dataset.status = "done";
  } catch (error) {
    body = h("p", { class: "error", role: "alert" }, errorText(error));
    target.dataset.status = "failed";
  }
  target.replaceChildren(target.firstChild!, body);
}

async function drawAllocation(
  image: VhdxImage,
  layers: VhdxImage[],
  target: HTMLElement,
  signal: AbortSignal,
): Promise<Node> {
  const progress = h("progress", { max: 1, value: 0, "aria-label": "Walking the allocation" });
  target.replaceChildren(target.firstChild!, progress);
  const summary = await summariseAllocation(image, signal, (covered) => {
    progress.value = covered / image.virtualSize;
  });
  return renderAllocation(
    summary,
    layers.map((layer) => layer.source.name),
  );
}

function saveRaw(disk: OpenedDisk, area: HTMLElement): void {
  const { image } = disk;
  const task = startTask(area, `Saving ${disk.name} as raw`);
  const name = `${disk.name.replace(/^.*\//, "").replace(/\.a?vhdx$/i, "") || "disk"}.raw`;
  saveOutput({ name, size: image.virtualSize, open: () => image.stream() }, task).then(
    (message) => task.finish(message),
    (error: unknown) => task.fail(error),
  );
}
