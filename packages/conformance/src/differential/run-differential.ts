// Every comparison of the corpus, image by image: our reader (opened
// read-only) against each expected raw file, against pyvhdi, and against
// vhdiinfo's fields; for our writer's images, `qemu-img check` and the
// oracle's read against the model of what we wrote; and 7-Zip's test and
// read of every image against its expected contents. An oracle known to be
// wrong or unable on an image gives a skipped comparison with the reason.
import { type OracleName, oracle } from "@vhdx-tools/oracles";
import type { VhdxImage } from "@vhdx/image";
import { openVhdx } from "@vhdx/image/node";
import type { CorpusImage, DifferentialOracle } from "../corpus/corpus-image.js";
import type { Comparison } from "../results.js";
import type { CompareOptions } from "./compare-bytes.js";
import { readerAgainstPyvhdi } from "./pyvhdi-comparison.js";
import { writerImageChecked } from "./qemu-check.js";
import { readerAgainstReference, writerOracleName, writesAgainstReference } from "./reference-comparisons.js";
import { sevenZipAgainstReference, sevenZipTested } from "./seven-zip-comparison.js";
import { fieldsAgainstVhdiinfo } from "./vhdiinfo-comparison.js";

export interface DifferentialOptions extends CompareOptions {
  /** Disks up to this size are compared with pyvhdi whole, larger ones in their data ranges (default 256 MiB). */
  pyvhdiWholeLimit?: number;
  /** Disks up to this size are compared with 7-Zip whole, larger ones in their data ranges (default 1 GiB). */
  sevenZipWholeLimit?: number;
  onProgress?: (line: string) => void;
}

export async function runDifferential(
  corpus: readonly CorpusImage[],
  options: DifferentialOptions = {},
): Promise<Comparison[]> {
  const comparisons: Comparison[] = [];
  for (const entry of corpus) {
    const started = Date.now();
    const found = await compareImage(entry, options);
    comparisons.push(...found);
    const failed = found.filter((c) => c.mismatches.length > 0).map((c) => c.oracle);
    options.onProgress?.(
      `differential ${entry.name}: ${found.length} comparisons${failed.length ? `, MISMATCH with ${failed.join(", ")}` : ""} (${Date.now() - started} ms)`,
    );
  }
  return comparisons;
}

async function compareImage(entry: CorpusImage, options: DifferentialOptions): Promise<Comparison[]> {
  const comparisons: Comparison[] = [];
  let image: VhdxImage | undefined;
  try {
    // The corpus's chains keep parents in other folders, on purpose.
    image = await openVhdx(entry.path, { allowParentOutsideTree: true });
  } catch (error) {
    comparisons.push(failed(entry.expected.oracle, entry, `our reader could not open the image: ${describe(error)}`));
  }
  if (image !== undefined) {
    try {
      comparisons.push(...(await readerComparisons(image, entry, options)));
    } finally {
      await image.close();
    }
  }
  comparisons.push(...(await writerComparisons(entry, options)));
  comparisons.push(await unlessSkipped("7zz t", entry, () => sevenZipTested(entry)));
  comparisons.push(
    await unlessSkipped("7zz x", entry, () =>
      sevenZipAgainstReference(entry, {
        ...options,
        ...(options.sevenZipWholeLimit ? { wholeLimit: options.sevenZipWholeLimit } : {}),
      }),
    ),
  );
  return comparisons;
}

async function readerComparisons(
  image: VhdxImage,
  entry: CorpusImage,
  options: DifferentialOptions,
): Promise<Comparison[]> {
  const comparisons: Comparison[] = [];
  for (const reference of [entry.expected, ...entry.alsoExpected]) {
    comparisons.push(
      await attempt(reference.oracle, entry, () => readerAgainstReference(image, entry, reference, options)),
    );
  }
  const references = new Set<string>([entry.expected.oracle, ...entry.alsoExpected.map((r) => r.oracle)]);
  const qemuSkip = entry.skip["qemu-img convert"];
  if (!references.has("qemu-img convert") && qemuSkip !== undefined)
    comparisons.push(skipped("qemu-img convert", entry, qemuSkip));
  if (!references.has("pyvhdi")) {
    comparisons.push(
      await unlessSkipped("pyvhdi", entry, () =>
        readerAgainstPyvhdi(image, entry, {
          ...options,
          ...(options.pyvhdiWholeLimit ? { wholeLimit: options.pyvhdiWholeLimit } : {}),
        }),
      ),
    );
  }
  comparisons.push(await unlessSkipped("vhdiinfo", entry, async () => fieldsAgainstVhdiinfo(image, entry)));
  return comparisons;
}

async function writerComparisons(entry: CorpusImage, options: DifferentialOptions): Promise<Comparison[]> {
  if (entry.origin !== "writer") return [];
  const comparisons: Comparison[] = [
    await unlessSkipped("qemu-img check", entry, async () => writerImageChecked(entry)),
  ];
  const model = entry.writerModel;
  if (model !== undefined) {
    const name = writerOracleName(entry.expected.oracle);
    comparisons.push(await attempt(name, entry, () => writesAgainstReference(entry, model, options)));
  }
  return comparisons;
}

/** The program each oracle runs. */
const PROGRAMS: Record<DifferentialOracle, OracleName> = {
  "qemu-img convert": "qemu-img",
  "qemu-img check": "qemu-img",
  pyvhdi: "pyvhdi",
  vhdiinfo: "vhdiinfo",
  "7zz x": "7zz",
  "7zz t": "7zz",
};

/** Compares unless the image says the oracle is wrong here, or (outside CI) the oracle is not installed. */
async function unlessSkipped(
  name: DifferentialOracle,
  entry: CorpusImage,
  compare: () => Promise<Comparison>,
): Promise<Comparison> {
  const reason = entry.skip[name];
  if (reason !== undefined) return skipped(name, entry, reason);
  // oracle() throws in CI when the program is missing: attempt() turns that into a mismatch.
  return attempt(name, entry, async () =>
    oracle(PROGRAMS[name]) ? compare() : skipped(name, entry, `${PROGRAMS[name]} is not installed`),
  );
}

/** Runs a comparison; an exception (ours or the oracle's) becomes a mismatch, not the end of the run. */
async function attempt(name: string, entry: CorpusImage, compare: () => Promise<Comparison>): Promise<Comparison> {
  try {
    return await compare();
  } catch (error) {
    return failed(name, entry, `comparison failed: ${describe(error)}`);
  }
}

function skipped(name: string, entry: CorpusImage, reason: string): Comparison {
  return { oracle: name, image: entry.name, bytesCompared: 0, mismatches: [], skipped: reason };
}

function failed(name: string, entry: CorpusImage, problem: string): Comparison {
  return { oracle: name, image: entry.name, bytesCompared: 0, mismatches: [problem] };
}

function describe(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.split("\n").slice(0, 6).join(" | ");
}
