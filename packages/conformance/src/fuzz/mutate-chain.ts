// Mutants of a differencing chain as a whole: usually the child is mutated
// and its parent kept; sometimes the parent is mutated under an intact
// child, or child and parent are made each other's parent (a two-file cycle).
import { mutate } from "./mutate.js";
import { rewriteLocator } from "./mutate-locator.js";
import type { Prng } from "../random.js";
import { MUTANT_FILE_NAME, type SeedFile, type SeedImage } from "./seeds.js";
import { type StructureMap, mapStructures } from "./structure-map.js";

export interface PreparedSeed {
  seed: SeedImage;
  map: StructureMap;
  parentMaps: StructureMap[];
}

export interface ChainMutant {
  bytes: Uint8Array;
  /** The files to place beside the mutant (the seed's parents, or mutated ones). */
  parents: SeedFile[];
  description: string;
}

export function prepareSeed(seed: SeedImage): PreparedSeed {
  return {
    seed,
    map: mapStructures(seed.bytes),
    parentMaps: seed.parents.map((parent) => mapStructures(parent.bytes)),
  };
}

export function mutateSeed(prepared: PreparedSeed, rng: Prng): ChainMutant {
  const { seed, map, parentMaps } = prepared;
  const parent = seed.parents[0];
  if (parent !== undefined && rng.chance(0.2)) {
    const cycle = rng.chance(0.3) ? twoFileCycle(seed, map, parent) : null;
    if (cycle !== null) return cycle;
    const mutated = mutate(parent.bytes, parentMaps[0]!, rng, parent.fileName);
    return {
      bytes: seed.bytes,
      parents: [{ ...parent, bytes: mutated.bytes }, ...seed.parents.slice(1)],
      description: `parent ${parent.fileName}: ${mutated.description}`,
    };
  }
  const mutated = mutate(seed.bytes, map, rng, MUTANT_FILE_NAME);
  return { bytes: mutated.bytes, parents: seed.parents, description: mutated.description };
}

/**
 * The child, linked to its own DataWriteGuid, beside a "parent" that is a
 * copy of the child pointing back at it: each is the other's parent.
 */
function twoFileCycle(seed: SeedImage, map: StructureMap, parent: SeedFile): ChainMutant | null {
  if (map.dataWriteGuid === null) return null;
  const linkage = `{${map.dataWriteGuid}}`;
  const child = seed.bytes.slice();
  const back = seed.bytes.slice();
  if (!rewriteLocator(child, map, { parent_linkage: linkage, relative_path: parent.fileName })) return null;
  if (!rewriteLocator(back, map, { parent_linkage: linkage, relative_path: MUTANT_FILE_NAME })) return null;
  return {
    bytes: child,
    parents: [{ fileName: parent.fileName, bytes: back }],
    description: `two-file cycle: ${MUTANT_FILE_NAME} and ${parent.fileName} name each other as parent, both linked to ${linkage}`,
  };
}
