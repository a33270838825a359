// Our reader against the expected raw files of an image (the oracle's or the
// generator's), and the oracle's read of our writer's output against the
// model of what we wrote.
import type { VhdxImage } from "@vhdx/image";
import type { CorpusImage, ReferenceContents } from "../corpus/corpus-image.js";
import type { Comparison } from "../results.js";
import { type CompareOptions, compareViews, wholeDisk } from "./compare-bytes.js";
import { readerView, withRawView } from "./views.js";

export async function readerAgainstReference(
  image: VhdxImage,
  entry: CorpusImage,
  reference: ReferenceContents,
  options: CompareOptions,
): Promise<Comparison> {
  const result = await withRawView(reference.path, entry.virtualSize, (theirs) =>
    compareViews(
      wholeDisk(entry.virtualSize),
      readerView(image),
      theirs,
      { ours: "our reader", theirs: reference.oracle },
      options,
    ),
  );
  return { oracle: reference.oracle, image: entry.name, ...result };
}

/** What the oracle reads of our writer's image against what we wrote (oracle name e.g. "qemu-img convert (our writes)"). */
export async function writesAgainstReference(
  entry: CorpusImage,
  model: string,
  options: CompareOptions,
): Promise<Comparison> {
  const reference = entry.expected;
  const result = await withRawView(model, entry.virtualSize, (ours) =>
    withRawView(reference.path, entry.virtualSize, (theirs) =>
      compareViews(
        wholeDisk(entry.virtualSize),
        ours,
        theirs,
        { ours: "our writes", theirs: reference.oracle },
        options,
      ),
    ),
  );
  return { oracle: writerOracleName(reference.oracle), image: entry.name, ...result };
}

export function writerOracleName(oracle: string): string {
  return `${oracle} (our writes)`;
}
