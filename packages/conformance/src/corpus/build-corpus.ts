// Builds the corpus into a directory and writes its manifest (corpus.json),
// so the differential runners can work on a corpus built earlier. A recipe
// whose oracles are not installed is left out (in CI, oracle() throws instead).
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { BuildCorpusOptions, CorpusImage } from "./corpus-image.js";
import { oracle } from "@vhdx-tools/oracles";
import { corpusRecipes } from "./profiles.js";

export const CORPUS_MANIFEST = "corpus.json";

export async function buildCorpus(dir: string, options: BuildCorpusOptions): Promise<CorpusImage[]> {
  await mkdir(dir, { recursive: true });
  const images: CorpusImage[] = [];
  const recipes = corpusRecipes(options.profile);
  for (const [index, recipe] of recipes.entries()) {
    const missing = recipe.needs.filter((name) => !oracle(name));
    if (missing.length > 0) {
      options.onProgress?.(
        `corpus ${index + 1}/${recipes.length} ${recipe.name}: left out, ${missing.join(" and ")} not installed`,
      );
      continue;
    }
    const started = Date.now();
    const built = await recipe.build(dir);
    images.push(...built);
    options.onProgress?.(
      `corpus ${index + 1}/${recipes.length} ${recipe.name}: ${built.map((image) => image.name).join(", ")} (${Date.now() - started} ms)`,
    );
  }
  await writeFile(join(dir, CORPUS_MANIFEST), `${JSON.stringify({ profile: options.profile, images }, null, 2)}\n`);
  return images;
}

/** The images of a corpus built earlier into `dir`. */
export async function readCorpus(dir: string): Promise<CorpusImage[]> {
  const manifest = JSON.parse(await readFile(join(dir, CORPUS_MANIFEST), "utf8")) as { images?: CorpusImage[] };
  if (!Array.isArray(manifest.images)) throw new Error(`${join(dir, CORPUS_MANIFEST)}: no "images" list`);
  return manifest.images;
}
