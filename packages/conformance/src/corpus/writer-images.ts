// Images our writer makes: createVhdx, then sessions of writes, zero writes
// and discards (the later ones through openVhdx read-write). Each comes with
// a model of what we wrote and, as its expected contents, an oracle's read:
// `qemu-img convert -O raw` (QEMU reading our output is the check of our
// writer against QEMU), or python3-libvhdi where QEMU cannot open the image.
// An image may live in a folder of its own below the corpus, so that a chain's
// parent locators lead into other folders.
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { qemuConvertToRaw } from "@vhdx-tools/oracles";
import type { VhdxImage } from "@vhdx/image";
import { createVhdx, openVhdx } from "@vhdx/image/node";
import {
  CHUNK_512,
  type CorpusImage,
  type CorpusRecipe,
  ORACLE_LIMITS,
  blockSizeFeature,
  libvhdiLimits,
  sevenZipLimits,
  sevenZipRefuses,
} from "./corpus-image.js";
import { pyvhdiRaw } from "./pyvhdi-raw.js";
import { type DiscardModel, applyOps, startModel, wholeBlocks } from "./raw-file.js";
import { type Op, opBytes, opFeatures, touchedBlocks } from "./workload.js";

export interface WriterImageSpec {
  name: string;
  type: "fixed" | "dynamic";
  size: number;
  blockSize: number;
  logicalSectorSize?: 512 | 4096;
  /** Each session is one open: the first on the new image, the others reopened read-write. */
  sessions: Op[][];
  /** The folder below the corpus's that holds the image (default: the corpus's own). */
  folder?: string;
}

export interface WriterChainSpec {
  parent: WriterImageSpec;
  /** The differencing child's name and sessions (its block size is our default for differencing). */
  child: WriterChildSpec;
}

export interface WriterChildSpec {
  name: string;
  blockSize?: number;
  sessions: Op[][];
  folder?: string;
}

/** A parent and differencing children each on top of the one before, as deep as `children` is long. */
export interface WriterDeepChainSpec {
  parent: WriterImageSpec;
  children: WriterChildSpec[];
}

export function writerRecipe(spec: WriterImageSpec): CorpusRecipe {
  return {
    name: spec.name,
    needs: [(spec.logicalSectorSize ?? 512) === 512 ? "qemu-img" : "pyvhdi"],
    build: async (dir) => [await buildWriterImage(dir, spec)],
  };
}

/** A differencing child of ours on top of the last image `base` builds (e.g. a generated chain). */
export function writerChildRecipe(base: CorpusRecipe, child: WriterChildSpec): CorpusRecipe {
  return {
    name: child.name,
    needs: [...base.needs, "pyvhdi"],
    build: async (dir) => {
      const below = await base.build(dir);
      return [...below, await buildWriterChild(dir, below[below.length - 1]!, child)];
    },
  };
}

export function writerDeepChainRecipe(spec: WriterDeepChainSpec): CorpusRecipe {
  return {
    name: spec.children[spec.children.length - 1]!.name,
    needs: [(spec.parent.logicalSectorSize ?? 512) === 512 ? "qemu-img" : "pyvhdi", "pyvhdi"],
    build: async (dir) => {
      const chain = [await buildWriterImage(dir, spec.parent)];
      for (const child of spec.children) chain.push(await buildWriterChild(dir, chain[chain.length - 1]!, child));
      return chain;
    },
  };
}

export function writerChainRecipe(spec: WriterChainSpec): CorpusRecipe {
  return {
    name: spec.child.name,
    needs: [(spec.parent.logicalSectorSize ?? 512) === 512 ? "qemu-img" : "pyvhdi", "pyvhdi"],
    build: async (dir) => {
      const parent = await buildWriterImage(dir, spec.parent);
      return [parent, await buildWriterChild(dir, parent, spec.child)];
    },
  };
}

async function buildWriterImage(dir: string, spec: WriterImageSpec): Promise<CorpusImage> {
  const sectorSize = spec.logicalSectorSize ?? 512;
  const path = imagePath(dir, spec);
  const created = await createVhdx(path, {
    size: spec.size,
    type: spec.type,
    blockSize: spec.blockSize,
    logicalSectorSize: sectorSize,
  });
  await runSessions(created, path, spec.sessions);
  const model = join(dir, `${spec.name}.model.raw`);
  await startModel(model, spec.size);
  const discard: DiscardModel = (offset, length) =>
    spec.type === "fixed"
      ? []
      : wholeBlocks(offset, length, spec.blockSize, spec.size).map((block) => ({ ...block, to: "zero" }));
  await applyOps(model, spec.sessions.flat(), "ramp", discard);
  const raw = join(dir, `${spec.name}.raw`);
  if (sectorSize === 512) qemuConvertToRaw(path, raw);
  else await pyvhdiRaw(path, [], spec.size, raw);
  const ops = spec.sessions.flat();
  return {
    name: spec.name,
    origin: "writer",
    path,
    parents: [],
    virtualSize: spec.size,
    blockSize: spec.blockSize,
    logicalSectorSize: sectorSize,
    diskType: spec.type,
    features: writerFeatures(spec.type, spec.size, spec.blockSize, sectorSize, spec.sessions),
    expected: { oracle: sectorSize === 512 ? "qemu-img convert" : "pyvhdi", path: raw },
    alsoExpected: [],
    writerModel: model,
    focus: touchedBlocks(ops, spec.blockSize, spec.size),
    skip: {
      ...libvhdiLimits(spec.type, spec.size, sectorSize),
      ...sevenZipLimits(spec.size, sectorSize),
      ...(sectorSize === 512
        ? {}
        : { "qemu-img check": ORACLE_LIMITS.qemu4k, "qemu-img convert": ORACLE_LIMITS.qemu4k }),
    },
  };
}

/**
 * A differencing child of `parent`. Its expected contents come from libvhdi,
 * so its sessions must avoid what libvhdi misreads: no whole-block zero
 * writes (ZERO blocks), and a partial write in every chunk (a present sector bitmap).
 */
async function buildWriterChild(dir: string, parent: CorpusImage, spec: WriterChildSpec): Promise<CorpusImage> {
  const path = imagePath(dir, spec);
  const created = await createVhdx(path, {
    type: "differencing",
    parent: parent.path,
    allowParentOutsideTree: true, // the corpus's chains keep parents in other folders
    ...(spec.blockSize ? { blockSize: spec.blockSize } : {}),
  });
  const blockSize = created.blockSize;
  await runSessions(created, path, spec.sessions);
  const model = join(dir, `${spec.name}.model.raw`);
  // What the parent reads as: our model of it when we wrote it, else its oracle's contents.
  const base = parent.writerModel ?? parent.expected.path;
  await startModel(model, parent.virtualSize, base);
  const discard: DiscardModel = (offset, length) =>
    wholeBlocks(offset, length, blockSize, parent.virtualSize).map((block) => ({ ...block, to: "base" }));
  await applyOps(model, spec.sessions.flat(), "ramp", discard, base);
  const raw = join(dir, `${spec.name}.raw`);
  const parents = [parent.path, ...parent.parents];
  await pyvhdiRaw(path, parents, parent.virtualSize, raw);
  return {
    name: spec.name,
    origin: "writer",
    path,
    parents,
    virtualSize: parent.virtualSize,
    blockSize,
    logicalSectorSize: parent.logicalSectorSize,
    diskType: "differencing",
    features: [
      ...writerFeatures("differencing", parent.virtualSize, blockSize, parent.logicalSectorSize, spec.sessions),
      ...chainFeatures(path, parents),
    ],
    expected: { oracle: "pyvhdi", path: raw },
    alsoExpected: [],
    writerModel: model,
    focus: touchedBlocks(spec.sessions.flat(), blockSize, parent.virtualSize),
    skip: {
      "qemu-img check": ORACLE_LIMITS.qemuDifferencing,
      "qemu-img convert": ORACLE_LIMITS.qemuDifferencing,
      ...sevenZipLimits(parent.virtualSize, parent.logicalSectorSize),
      ...sevenZipParentLimits(parent),
    },
  };
}

/** How deep the chain is, and whether its parents live in other folders than their children. */
function chainFeatures(path: string, parents: readonly string[]): string[] {
  const levels = [path, ...parents];
  const features = levels.length > 2 ? [`chain-of-${levels.length}`] : [];
  if (levels.some((level, i) => i > 0 && dirname(level) !== dirname(levels[i - 1]!)))
    features.push("parents-in-other-folders");
  return features;
}

/** Where the image goes: `<name>.vhdx` in its folder below `dir`, which is made. */
function imagePath(dir: string, spec: { name: string; folder?: string }): string {
  const folder = join(dir, spec.folder ?? "");
  mkdirSync(folder, { recursive: true });
  return join(folder, `${spec.name}.vhdx`);
}

/** 7-Zip refuses a child when it refuses the parent. */
function sevenZipParentLimits(parent: CorpusImage): CorpusImage["skip"] {
  const reason = parent.skip["7zz t"];
  return reason === undefined ? {} : sevenZipRefuses(reason);
}

async function runSessions(created: VhdxImage, path: string, sessions: readonly Op[][]): Promise<void> {
  let image = created;
  for (const [index, ops] of sessions.entries()) {
    if (index > 0) image = await openVhdx(path, { readOnly: false, allowParentOutsideTree: true });
    try {
      for (const op of ops) await applyOp(image, op);
    } finally {
      await image.close();
    }
  }
  if (sessions.length === 0) await created.close();
}

function applyOp(image: VhdxImage, op: Op): Promise<void> {
  switch (op.kind) {
    case "write":
      return image.write(op.offset, opBytes(op.pattern, op.offset, op.length, "ramp"));
    case "zero":
      return image.writeZeroes(op.offset, op.length);
    case "discard":
      // Parts of blocks are kept (the default), as the model expects; what was freed is not needed here.
      return image.discard(op.offset, op.length).then(() => {});
  }
}

function writerFeatures(
  type: string,
  size: number,
  blockSize: number,
  sectorSize: number,
  sessions: readonly Op[][],
): string[] {
  const features = [type, blockSizeFeature(blockSize), ...opFeatures(sessions.flat())];
  if (sectorSize === 4096) features.push("4k-sectors");
  if (size > (CHUNK_512 / 512) * sectorSize) features.push(sectorSize === 512 ? "past-4GiB-chunk" : "past-first-chunk");
  if (size % blockSize !== 0) features.push("partial-last-block");
  if (sessions.length > 1) features.push("reopened-sessions");
  return features;
}
