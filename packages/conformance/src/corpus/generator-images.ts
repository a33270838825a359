// Images QEMU cannot make, from tools/fixtures' spec-driven generator (which
// shares no code with @vhdx/image): differencing chains with partially present
// blocks, 4 KiB logical sectors, every block state including the legacy
// UNMAPPED value 5, unknown optional regions and metadata items, user
// metadata. The expected contents are the generator's own model; where QEMU
// can open the image, `qemu-img convert` must agree with it too.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Fixture, type FixtureSpec, STATE, buildVhdx, patternBlock } from "@vhdx-tools/fixtures";
import { qemuConvertToRaw } from "@vhdx-tools/oracles";
import {
  CHUNK_512,
  type CorpusImage,
  type CorpusRecipe,
  type DifferentialOracle,
  ORACLE_LIMITS,
  blockSizeFeature,
  libvhdiLimits,
  sevenZipLimits,
  sevenZipRefuses,
} from "./corpus-image.js";
import { writeSparseRaw } from "./raw-file.js";
import { mergeRanges } from "./workload.js";

export interface GeneratedLevel {
  /** The image's name; its file is `<name>.vhdx`. */
  name: string;
  /** The spec; for a differencing level, `parent` (linkage and relative_path) is filled in from the level below. */
  spec: FixtureSpec;
  features: string[];
  /** Oracles libvhdi-style bugs make unusable here, with the reason. */
  skip?: Partial<Record<DifferentialOracle, string>>;
}

/** A chain of generated images, base first; each level above the first is a differencing child of the one below. */
export function generatorRecipe(name: string, levels: GeneratedLevel[]): CorpusRecipe {
  const qemuOpensOne = levels.some(
    (level) => (level.spec.logicalSectorSize ?? 512) === 512 && level.spec.type !== "differencing",
  );
  return { name, needs: qemuOpensOne ? ["qemu-img"] : [], build: (dir) => buildChain(dir, levels) };
}

async function buildChain(dir: string, levels: GeneratedLevel[]): Promise<CorpusImage[]> {
  const images: CorpusImage[] = [];
  let below: { fixture: Fixture; image: CorpusImage } | undefined;
  for (const [depth, level] of levels.entries()) {
    const own = { ...level.spec, blocks: distinctData(level.spec, depth) };
    const spec: FixtureSpec = below
      ? {
          ...own,
          parent: { dataWriteGuid: below.fixture.dataWriteGuid, paths: { relative_path: `${below.image.name}.vhdx` } },
        }
      : own;
    const fixture = buildVhdx(spec, below?.fixture);
    const image = await emit(dir, level, spec, fixture, below?.image);
    images.push(image);
    below = { fixture, image };
  }
  return images;
}

/**
 * The blocks with data of their own: the generator's default pattern depends
 * only on the block index, so a child's block would equal its parent's and a
 * read from the wrong level would go unnoticed.
 */
function distinctData(spec: FixtureSpec, depth: number): FixtureSpec["blocks"] {
  const blocks: NonNullable<FixtureSpec["blocks"]> = {};
  for (const [index, block] of Object.entries(spec.blocks ?? {})) {
    const stored = block.state === STATE.FULLY_PRESENT || block.state === STATE.PARTIALLY_PRESENT;
    blocks[Number(index)] =
      stored && block.data === undefined
        ? { ...block, data: patternBlock(spec.blockSize, (depth + 1) * 100_003 + Number(index)) }
        : block;
  }
  return blocks;
}

async function emit(
  dir: string,
  level: GeneratedLevel,
  spec: FixtureSpec,
  fixture: Fixture,
  parent: CorpusImage | undefined,
): Promise<CorpusImage> {
  const path = join(dir, `${level.name}.vhdx`);
  writeFileSync(path, fixture.bytes);
  const raw = join(dir, `${level.name}.raw`);
  await writeSparseRaw(raw, spec.virtualSize, fixture.expectedAt);
  const sectorSize = spec.logicalSectorSize ?? 512;
  const qemuRefusal =
    sectorSize !== 512
      ? ORACLE_LIMITS.qemu4k
      : spec.type === "differencing"
        ? ORACLE_LIMITS.qemuDifferencing
        : undefined;
  const alsoExpected: CorpusImage["alsoExpected"] = [];
  if (qemuRefusal === undefined) {
    const qemuRaw = join(dir, `${level.name}.qemu.raw`);
    qemuConvertToRaw(path, qemuRaw);
    alsoExpected.push({ oracle: "qemu-img convert", path: qemuRaw });
  }
  return {
    name: level.name,
    origin: "generator",
    path,
    parents: parent ? [parent.path, ...parent.parents] : [],
    virtualSize: spec.virtualSize,
    blockSize: spec.blockSize,
    logicalSectorSize: sectorSize,
    diskType: spec.type,
    features: features(spec, level.features),
    expected: { oracle: "generator", path: raw },
    alsoExpected,
    focus: mergeRanges([...presentBlocks(spec), ...(parent?.focus ?? [])]),
    skip: {
      ...libvhdiLimits(spec.type, spec.virtualSize, sectorSize),
      ...(qemuRefusal ? { "qemu-img convert": qemuRefusal } : {}),
      ...sevenZipGeneratedLimits(spec, parent),
      ...level.skip,
    },
  };
}

/** What 7-Zip refuses: the legacy UNMAPPED value, an odd number of sectors, or a parent it refuses. */
function sevenZipGeneratedLimits(spec: FixtureSpec, parent: CorpusImage | undefined): CorpusImage["skip"] {
  const parentRefused = parent?.skip["7zz t"];
  const legacy = Object.values(spec.blocks ?? {}).some((block) => block.state === STATE.UNMAPPED_V095);
  return {
    ...(parentRefused === undefined ? {} : sevenZipRefuses(parentRefused)),
    ...(legacy ? sevenZipRefuses(ORACLE_LIMITS.sevenZipLegacyUnmapped) : {}),
    ...sevenZipLimits(spec.virtualSize, spec.logicalSectorSize ?? 512),
  };
}

function features(spec: FixtureSpec, extra: string[]): string[] {
  const sectorSize = spec.logicalSectorSize ?? 512;
  const list = [spec.type, blockSizeFeature(spec.blockSize), ...extra];
  if (sectorSize === 4096) list.push("4k-sectors");
  if (sectorSize === 512 && spec.virtualSize > CHUNK_512) list.push("past-4GiB-chunk");
  return list;
}

/** The blocks the spec gives a state, as virtual ranges. */
function presentBlocks(spec: FixtureSpec): Array<[number, number]> {
  return Object.keys(spec.blocks ?? {})
    .map(Number)
    .sort((a, b) => a - b)
    .map((block) => [block * spec.blockSize, Math.min(spec.blockSize, spec.virtualSize - block * spec.blockSize)]);
}
