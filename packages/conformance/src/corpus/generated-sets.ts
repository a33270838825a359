// The generator's images: what QEMU cannot make. Block data is the
// generator's pattern unless given; chains are written base first.
import { type FixtureBlock, STATE } from "@vhdx-tools/fixtures";
import { CHUNK_512, type CorpusRecipe, MiB, ORACLE_LIMITS } from "./corpus-image.js";
import { type GeneratedLevel, generatorRecipe } from "./generator-images.js";

const everyOther = (sector: number) => sector % 2 === 0;
const everyThird = (sector: number) => sector % 3 === 0;
const lowHalf = (sectors: number) => (sector: number) => sector < sectors / 2;
const UNKNOWN_REGION = "6a7f1c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b";
const UNKNOWN_ITEM = "c0ffee00-1234-4abc-9def-0123456789ab";
const USER_ITEM = "5e7a11ed-beef-4cad-8e11-fedcba987654";
const text = (s: string) => new TextEncoder().encode(s);

/** What a set leaves out or changes for an oracle that refuses part of it (7-Zip: value 5, odd sector counts). */
export interface SetOptions {
  /** Include the legacy UNMAPPED value 5 (default true). */
  legacy?: boolean;
  /** Sectors in the partial last block (default 3). */
  tailSectors?: number;
}

/** Block `index` in the legacy UNMAPPED state, when wanted. */
function legacyBlock(legacy: boolean, index: number): Record<number, FixtureBlock> {
  return legacy ? { [index]: { state: STATE.UNMAPPED_V095 } } : {};
}

/** Every payload block state of a dynamic disk, the legacy UNMAPPED value 5 among them unless left out. */
export function blockStates(
  name: string,
  sectorSize: 512 | 4096,
  blockSize: number,
  options: SetOptions = {},
): CorpusRecipe {
  const legacy = options.legacy ?? true;
  return generatorRecipe(name, [
    {
      name,
      features: ["every-block-state", ...(legacy ? ["unmapped-legacy"] : []), "partial-last-block"],
      spec: {
        virtualSize: 10 * blockSize + (options.tailSectors ?? 3) * sectorSize,
        blockSize,
        logicalSectorSize: sectorSize,
        type: "dynamic",
        blocks: {
          0: { state: STATE.FULLY_PRESENT },
          1: { state: STATE.ZERO },
          2: { state: STATE.UNDEFINED },
          3: { state: STATE.UNMAPPED },
          ...legacyBlock(legacy, 4),
          5: { state: STATE.FULLY_PRESENT },
          7: { state: STATE.FULLY_PRESENT },
          10: { state: STATE.FULLY_PRESENT },
        },
      },
    },
  ]);
}

/** An unknown optional region, an unknown optional system metadata item and a user item: all to be ignored by readers. */
export function unknownStructures(name: string): CorpusRecipe {
  return generatorRecipe(name, [
    {
      name,
      features: ["unknown-region", "unknown-metadata", "user-metadata"],
      spec: {
        virtualSize: 8 * MiB,
        blockSize: 2 * MiB,
        type: "dynamic",
        blocks: { 0: { state: STATE.FULLY_PRESENT }, 3: { state: STATE.FULLY_PRESENT } },
        extraRegions: [{ guid: UNKNOWN_REGION, required: false }],
        extraItems: [
          { itemId: UNKNOWN_ITEM, isUser: false, isRequired: false, data: text("an optional item nobody knows") },
          { itemId: USER_ITEM, isUser: true, isRequired: false, data: text("owner=conformance") },
        ],
      },
    },
  ]);
}

/** base <- mid <- top, partially present blocks in every child, libvhdi-safe (no ZERO blocks, every chunk's bitmap present). */
export function partialChain(prefix: string, sectorSize: 512 | 4096, blockSize = MiB): CorpusRecipe {
  const sectors = blockSize / sectorSize;
  const common = { virtualSize: 8 * blockSize, blockSize, logicalSectorSize: sectorSize } as const;
  const levels: GeneratedLevel[] = [
    {
      name: `${prefix}-base`,
      features: [],
      spec: {
        ...common,
        type: "dynamic",
        blocks: {
          0: { state: STATE.FULLY_PRESENT },
          1: { state: STATE.FULLY_PRESENT },
          2: { state: STATE.FULLY_PRESENT },
          4: { state: STATE.FULLY_PRESENT },
          6: { state: STATE.FULLY_PRESENT },
        },
      },
    },
    {
      name: `${prefix}-mid`,
      features: ["partially-present"],
      spec: {
        ...common,
        type: "differencing",
        blocks: {
          0: { state: STATE.FULLY_PRESENT },
          1: { state: STATE.PARTIALLY_PRESENT, presentSectors: everyOther },
          4: { state: STATE.PARTIALLY_PRESENT, presentSectors: lowHalf(sectors) },
          5: { state: STATE.PARTIALLY_PRESENT, presentSectors: everyThird },
        },
      },
    },
    {
      name: `${prefix}-top`,
      features: ["partially-present", "chain-of-3"],
      spec: {
        ...common,
        type: "differencing",
        blocks: {
          1: { state: STATE.PARTIALLY_PRESENT, presentSectors: everyThird },
          2: { state: STATE.FULLY_PRESENT },
          5: { state: STATE.PARTIALLY_PRESENT, presentSectors: (s: number) => s === 0 || s === sectors - 1 },
          7: { state: STATE.PARTIALLY_PRESENT, presentSectors: lowHalf(sectors) },
        },
      },
    },
  ];
  return generatorRecipe(`${prefix}-top`, levels);
}

/** A differencing child holding every block state over a parent full of data (libvhdi reads its ZERO block from the parent). */
export function differencingStates(prefix: string, options: Pick<SetOptions, "legacy"> = {}): CorpusRecipe {
  const legacy = options.legacy ?? true;
  const common = { virtualSize: 8 * MiB, blockSize: MiB } as const;
  const all = Object.fromEntries([0, 1, 2, 3, 4, 5, 6, 7].map((block) => [block, { state: STATE.FULLY_PRESENT }]));
  return generatorRecipe(`${prefix}-child`, [
    { name: `${prefix}-base`, features: [], spec: { ...common, type: "dynamic", blocks: all } },
    {
      name: `${prefix}-child`,
      features: ["every-block-state", ...(legacy ? ["unmapped-legacy"] : []), "partially-present"],
      skip: { pyvhdi: ORACLE_LIMITS.libvhdiZeroInDifferencing },
      spec: {
        ...common,
        type: "differencing",
        blocks: {
          0: { state: STATE.ZERO },
          1: { state: STATE.UNDEFINED },
          2: { state: STATE.UNMAPPED },
          ...legacyBlock(legacy, 3),
          4: { state: STATE.PARTIALLY_PRESENT, presentSectors: everyOther },
          6: { state: STATE.FULLY_PRESENT },
        },
      },
    },
  ]);
}

/** A differencing child with no partially present block, so no sector bitmap (libvhdi reads one from file offset 0). */
export function differencingWithoutBitmap(prefix: string): CorpusRecipe {
  const common = { virtualSize: 6 * MiB, blockSize: MiB } as const;
  return generatorRecipe(`${prefix}-child`, [
    {
      name: `${prefix}-base`,
      features: [],
      spec: {
        ...common,
        type: "dynamic",
        blocks: {
          0: { state: STATE.FULLY_PRESENT },
          1: { state: STATE.FULLY_PRESENT },
          3: { state: STATE.FULLY_PRESENT },
        },
      },
    },
    {
      name: `${prefix}-child`,
      features: ["no-sector-bitmap"],
      skip: { pyvhdi: ORACLE_LIMITS.libvhdiMissingBitmap },
      spec: {
        ...common,
        type: "differencing",
        blocks: { 1: { state: STATE.FULLY_PRESENT }, 2: { state: STATE.FULLY_PRESENT } },
      },
    },
  ]);
}

/** A sparse chain past the first 4 GiB chunk: partially present blocks on both sides of the boundary, one bitmap per chunk. */
export function chainPastChunk(prefix: string, blockSize: number): CorpusRecipe {
  const edge = CHUNK_512 / blockSize; // first block of chunk 1
  const common = { virtualSize: CHUNK_512 + 4 * blockSize, blockSize } as const;
  return generatorRecipe(`${prefix}-child`, [
    {
      name: `${prefix}-base`,
      features: [],
      spec: {
        ...common,
        type: "dynamic",
        blocks: {
          0: { state: STATE.FULLY_PRESENT },
          [edge - 1]: { state: STATE.FULLY_PRESENT },
          [edge]: { state: STATE.FULLY_PRESENT },
          [edge + 2]: { state: STATE.FULLY_PRESENT },
        },
      },
    },
    {
      name: `${prefix}-child`,
      features: ["partially-present"],
      spec: {
        ...common,
        type: "differencing",
        blocks: {
          1: { state: STATE.PARTIALLY_PRESENT, presentSectors: everyThird },
          [edge - 1]: { state: STATE.PARTIALLY_PRESENT, presentSectors: everyOther },
          [edge]: { state: STATE.PARTIALLY_PRESENT, presentSectors: everyThird },
          [edge + 3]: { state: STATE.FULLY_PRESENT },
        },
      },
    },
  ]);
}
