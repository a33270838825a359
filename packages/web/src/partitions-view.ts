// The partition table inside the virtual disk (MBR or GPT), as a table.
import { h, table } from "./dom.js";
import { formatSize } from "./format.js";
import type { PartitionTable } from "@vhdx/image";

export function renderPartitions(partitionTable: PartitionTable): HTMLElement {
  const { scheme } = partitionTable;
  const section = h("div", { "data-scheme": scheme, "data-partitions": partitionTable.partitions.length });
  if (scheme === "none") {
    section.append(h("p", {}, "No partition table: the disk starts with neither an MBR nor a GPT."));
  } else {
    section.append(
      table(
        scheme.toUpperCase(),
        ["#", "type", "name", "start", "size"],
        partitionTable.partitions.map((partition) => [
          partition.kind && partition.kind !== "primary"
            ? `${partition.index} (${partition.kind})`
            : String(partition.index),
          partition.typeName ? `${partition.typeName} (${partition.type})` : partition.type,
          partition.name ?? "",
          `${formatSize(partition.start)} (${partition.start} bytes)`,
          formatSize(partition.size),
        ]),
      ),
    );
  }
  for (const finding of partitionTable.findings) section.append(h("p", { class: "note" }, finding));
  return section;
}
