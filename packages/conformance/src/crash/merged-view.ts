// What a merge cut short must keep: the child, read over the partially merged
// parent, still reads as it did before the merge. A merge gives the parent a
// new DataWriteGuid, so the child's linkage no longer accepts it; to read the
// child over it anyway, a copy of the parent gets its old DataWriteGuid back in
// both headers (nothing else changes), and the child opens over that copy.
import { MemorySource } from "@vhdx/image";
import { HEADER_1_OFFSET, HEADER_2_OFFSET, decodeHeader, encodeHeader, verifyHeaderChecksum } from "@vhdx/structs";
import { firstDifference } from "./bytes.js";
import { openWithParent } from "./run-steps.js";

/** Why the child does not read, over `parentFile`, as `childContents`; null when it does. */
export async function mergedViewProblem(
  child: Uint8Array,
  parentFile: Uint8Array,
  parentDataWriteGuid: string,
  childContents: Uint8Array,
): Promise<string | null> {
  const image = await openWithParent(
    new MemorySource(child.slice()),
    withDataWriteGuid(parentFile, parentDataWriteGuid),
    true,
  );
  const contents = await image.read(0, image.virtualSize);
  await image.close();
  const i = firstDifference(contents, childContents);
  if (i < 0) return null;
  return `merged view: the child over the merged parent reads ${contents[i]} at byte ${i}, before the merge it read ${childContents[i]}`;
}

/** A copy of `file` whose valid headers name `dataWriteGuid`. */
function withDataWriteGuid(file: Uint8Array, dataWriteGuid: string): Uint8Array {
  const copy = file.slice();
  for (const offset of [HEADER_1_OFFSET, HEADER_2_OFFSET]) {
    if (!verifyHeaderChecksum(copy, offset)) continue;
    copy.set(encodeHeader({ ...decodeHeader(copy, offset), dataWriteGuid }), offset);
  }
  return copy;
}
