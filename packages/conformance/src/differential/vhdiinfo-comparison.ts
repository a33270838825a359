// Our image's identity against vhdiinfo's: virtual size, logical sector size,
// disk type, Identifier (libvhdi's name for the DataWriteGuid) and, for a
// differencing disk, the parent identifier (the linkage to the parent's DataWriteGuid).
import { vhdiinfoFields } from "@vhdx-tools/oracles";
import type { VhdxImage } from "@vhdx/image";
import type { CorpusImage } from "../corpus/corpus-image.js";
import type { Comparison } from "../results.js";

export function fieldsAgainstVhdiinfo(image: VhdxImage, entry: CorpusImage): Comparison {
  const info = vhdiinfoFields(entry.path);
  const fields: Array<[string, unknown, unknown]> = [
    ["virtual size", image.virtualSize, info.mediaSize],
    ["logical sector size", image.logicalSectorSize, info.bytesPerSector],
    ["disk type", image.diskType, info.diskType],
    ["identifier (DataWriteGuid)", image.dataWriteGuid, info.identifier],
  ];
  if (image.diskType === "differencing") {
    fields.push(["parent identifier (parent_linkage)", linkage(image), info.parentIdentifier]);
    fields.push(["parent identifier (the parent's DataWriteGuid)", image.parent?.dataWriteGuid, info.parentIdentifier]);
  }
  const mismatches = fields
    .filter(([, ours, theirs]) => ours !== theirs)
    .map(([name, ours, theirs]) => `${name}: ours ${JSON.stringify(ours)}, vhdiinfo ${JSON.stringify(theirs)}`);
  return { oracle: "vhdiinfo", image: entry.name, bytesCompared: fields.length, mismatches };
}

function linkage(image: VhdxImage): string | undefined {
  return image.parentLocator?.parent_linkage?.replace(/^\{|\}$/g, "").toLowerCase();
}
