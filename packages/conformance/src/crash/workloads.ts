// The crash workloads, each a function of the seed: the file they start
// from, the steps they perform on it, and the model of its virtual disk.
// Over 300 lines: nine short workload builders side by side, so they read
// as one table; splitting them would scatter the table below.
//
// | name         | image under test                                  | steps                                   |
// |--------------|---------------------------------------------------|-----------------------------------------|
// | writes       | dynamic, made by our writer                       | writes, zero writes, discards, flushes  |
// | differencing | spec-generated child of a spec-generated parent   | the same                                |
// | sector-4k    | 4 KiB-sector child, our writer, over a spec parent| the same                                |
// | resize       | dynamic, our writer                               | the same between grows and shrinks, one |
// |              |                                                   | grow to 130 GiB moving the BAT          |
// | compact      | dynamic, our writer, every block allocated        | zero blocks, discards, two compactions  |
// | merge        | spec-generated parent                             | merge of a child (our writes over a     |
// |              |                                                   | spec-generated child) into it           |
// | log-wrap     | differencing child, our writer, over a spec parent| 150 one-sector writes, each flushed:    |
// |              |                                                   | the session's log wraps around its end  |
// | metadata     | dynamic, our writer                               | user items set, replaced, removed (one  |
// |              |                                                   | over two log entries), sector size and  |
// |              |                                                   | disk ID changes, between data steps     |
// | set-parent   | differencing child, our writer, over a spec parent| locator rewrites and user items between |
// |              |                                                   | data steps                              |
// | discard      | spec-generated child (partially present blocks)   | discards of whole blocks and of parts,  |
// |              | of a spec-generated parent                        | parts zeroed or kept, between writes    |
import { STATE, buildVhdx } from "@vhdx-tools/fixtures";
import { MemorySource, createImage, openImage } from "@vhdx/image";
import { LARGE_ITEM_LENGTH, MetadataModel, randomMetadataSteps } from "./metadata-steps.js";
import { randomDiscardSteps } from "./discard-steps.js";
import { DiskModel } from "./model.js";
import { type Random, deriveSeed, seededRandom } from "./random.js";
import { runSteps } from "./run-steps.js";
import type { Step } from "./steps.js";

const MiB = 1 << 20;
const GiB = 1024 * MiB;

export const CRASH_WORKLOADS = [
  "writes",
  "differencing",
  "sector-4k",
  "resize",
  "compact",
  "merge",
  "log-wrap",
  "metadata",
  "set-parent",
  "discard",
] as const;
export type CrashWorkloadName = (typeof CRASH_WORKLOADS)[number];

/** What a differencing image's locator calls its parent: the file is written there for `vhdx check`. */
export const PARENT_FILE_NAME = "parent.vhdx";

export interface CrashWorkload {
  name: CrashWorkloadName;
  /** The image under test before the first step. */
  file: Uint8Array;
  /** Its parent file when it is a differencing disk. */
  parent: Uint8Array | null;
  /** For merge: the child merged into `file`, and the DataWriteGuid its linkage names. */
  mergeChild: { child: Uint8Array; parent: Uint8Array; parentDataWriteGuid: string } | null;
  steps: Step[];
  model: DiskModel;
  /** What the metadata may hold after each step, for workloads that edit it; null otherwise. */
  metadata: MetadataModel | null;
  /** QEMU opens the image (512-byte sectors, no parent). */
  qemuCanOpen: boolean;
  /**
   * QEMU can replay the logs this workload leaves. Not after compact cuts the
   * file: QEMU ignores the Tail field, so it replays the session's earlier
   * entries too and refuses the file as truncated because their
   * FlushedFileOffset is the size before the cut (the spec looks at the
   * active sequence only, which starts at the size-recording entry).
   */
  qemuReplaysLog: boolean;
}

export async function buildWorkload(name: CrashWorkloadName, seed: number): Promise<CrashWorkload> {
  const random = seededRandom(deriveSeed(seed, CRASH_WORKLOADS.indexOf(name)));
  switch (name) {
    case "writes":
      return writesWorkload(random);
    case "differencing":
      return differencingWorkload(random);
    case "sector-4k":
      return sector4kWorkload(random);
    case "resize":
      return resizeWorkload(random);
    case "compact":
      return compactWorkload(random);
    case "merge":
      return mergeWorkload(random);
    case "log-wrap":
      return logWrapWorkload();
    case "metadata":
      return metadataWorkload(random);
    case "set-parent":
      return setParentWorkload(random);
    case "discard":
      return discardWorkload(random);
  }
}

/** Random writes (each with its own byte value), zero writes, discards and flushes on a disk of `size` bytes. */
function randomDataSteps(random: Random, size: number, blockSize: number, count: number, firstValue = 1): Step[] {
  const steps: Step[] = [];
  for (let i = 0; i < count; i++) {
    const roll = random(10);
    if (roll < 2) {
      steps.push({ kind: "flush" });
    } else if (roll < 3) {
      const offset = random(size / blockSize) * blockSize + (random(2) ? 0 : random(1000));
      steps.push({
        kind: "zero",
        offset,
        length: Math.min(size - offset, random(2) ? blockSize : 1 + random(2 * blockSize)),
      });
    } else if (roll < 4) {
      const offset = random(2) ? random(size / blockSize) * blockSize : random(size);
      steps.push({
        kind: "discard",
        offset,
        length: Math.min(size - offset, random(2) ? blockSize : random(2 * blockSize)),
      });
    } else {
      const offset = random(size - 1);
      const length = 1 + (random(3) ? random(8192) : random(blockSize + 5000));
      steps.push({
        kind: "write",
        offset,
        length: Math.min(size - offset, length),
        value: 1 + ((firstValue + i) % 250),
      });
    }
  }
  return steps;
}

function withClose(steps: Step[]): Step[] {
  return [...steps, { kind: "close" }];
}

async function writesWorkload(random: Random): Promise<CrashWorkload> {
  const size = 8 * MiB;
  const blockSize = MiB;
  const setup: Step[] = [0, 3, 4].map((block, i) => ({
    kind: "write",
    offset: block * blockSize,
    length: blockSize,
    value: 0xa0 + i,
  }));
  const file = await createdImage({ size, blockSize }, setup);
  const steps = withClose(randomDataSteps(random, size, blockSize, 28));
  return finish({
    name: "writes",
    file,
    steps,
    model: { initial: afterSteps(new Uint8Array(size), setup, blockSize), blockSize },
    qemu: "check and replay",
  });
}

async function differencingWorkload(random: Random): Promise<CrashWorkload> {
  const size = 6 * MiB;
  const blockSize = MiB;
  const parent = buildVhdx({ virtualSize: size, blockSize, type: "dynamic", blocks: fullyPresent(0, 2, 3) });
  const child = buildVhdx(
    {
      virtualSize: size,
      blockSize,
      type: "differencing",
      parent: { dataWriteGuid: parent.dataWriteGuid, paths: { relative_path: PARENT_FILE_NAME } },
      blocks: {
        2: { state: STATE.PARTIALLY_PRESENT, presentSectors: (s) => s % 3 === 0 },
        4: { state: STATE.FULLY_PRESENT },
      },
    },
    parent,
  );
  const steps = withClose(randomDataSteps(random, size, blockSize, 24));
  const model = { initial: child.expected, blockSize, parent: parent.expected };
  return finish({ name: "differencing", file: child.bytes, parent: parent.bytes, steps, model, qemu: "none" });
}

async function sector4kWorkload(random: Random): Promise<CrashWorkload> {
  const size = 8 * MiB;
  const blockSize = 2 * MiB;
  const parent = buildVhdx({
    virtualSize: size,
    blockSize,
    logicalSectorSize: 4096,
    type: "dynamic",
    blocks: fullyPresent(1, 3),
  });
  const child = await createdChild(parent.bytes, blockSize);
  const steps = withClose(randomDataSteps(random, size, blockSize, 24));
  const model = { initial: parent.expected, blockSize, parent: parent.expected };
  return finish({ name: "sector-4k", file: child, parent: parent.bytes, steps, model, qemu: "none" });
}

async function resizeWorkload(random: Random): Promise<CrashWorkload> {
  const blockSize = MiB;
  const window = 8 * MiB;
  const sizes = [4 * MiB, 7 * MiB + 1536, 130 * GiB, 3 * MiB - 4096, 6 * MiB];
  const steps: Step[] = [];
  sizes.forEach((size, i) => {
    if (i > 0) steps.push({ kind: "resize", size });
    steps.push(...randomDataSteps(random, Math.min(size, window), blockSize, 6, 40 * i));
  });
  const file = await createdImage({ size: sizes[0]!, blockSize }, []);
  const model = { initial: new Uint8Array(sizes[0]!), blockSize, window };
  return finish({ name: "resize", file, steps: withClose(steps), model, qemu: "check and replay" });
}

async function compactWorkload(random: Random): Promise<CrashWorkload> {
  const size = 8 * MiB;
  const blockSize = MiB;
  const setup: Step[] = Array.from({ length: 8 }, (_, block) => ({
    kind: "write",
    offset: block * blockSize,
    length: blockSize,
    value: 0x80 + block,
  }));
  const file = await createdImage({ size, blockSize }, setup);
  const zeroBlock = (block: number): Step => ({
    kind: "write",
    offset: block * blockSize,
    length: blockSize,
    value: 0,
  });
  const steps: Step[] = [
    zeroBlock(1),
    zeroBlock(2),
    { kind: "discard", offset: 3 * blockSize, length: blockSize },
    { kind: "zero", offset: 6 * blockSize, length: blockSize },
    ...randomDataSteps(random, size, blockSize, 4, 10),
    zeroBlock(5),
    { kind: "compact" },
    ...randomDataSteps(random, size, blockSize, 6, 20),
    zeroBlock(7),
    { kind: "compact" },
  ];
  const model = { initial: afterSteps(new Uint8Array(size), setup, blockSize), blockSize };
  // See CrashWorkload.qemuReplaysLog.
  return finish({ name: "compact", file, steps: withClose(steps), model, qemu: "check" });
}

async function mergeWorkload(random: Random): Promise<CrashWorkload> {
  const size = 8 * MiB;
  const parent = buildVhdx({ virtualSize: size, blockSize: 2 * MiB, type: "dynamic", blocks: fullyPresent(0, 1, 3) });
  const spec = buildVhdx(
    {
      virtualSize: size,
      blockSize: MiB,
      type: "differencing",
      parent: { dataWriteGuid: parent.dataWriteGuid, paths: { relative_path: PARENT_FILE_NAME } },
      blocks: {
        2: { state: STATE.PARTIALLY_PRESENT, presentSectors: (s) => s % 3 === 0 },
        5: { state: STATE.FULLY_PRESENT },
        6: { state: STATE.ZERO },
      },
    },
    parent,
  );
  const setup = randomDataSteps(random, size, MiB, 16, 100).filter((step) => step.kind !== "flush");
  const child = await writtenImage(spec.bytes, parent.bytes, setup);
  const merged = afterSteps(spec.expected, setup, MiB, parent.expected);
  const steps: Step[] = [{ kind: "merge" }, { kind: "close" }];
  const mergeChild = { child, parent: parent.bytes, parentDataWriteGuid: parent.dataWriteGuid };
  const model = { initial: parent.expected, blockSize: 2 * MiB, merged };
  return finish({ name: "merge", file: parent.bytes, mergeChild, steps, model, qemu: "check and replay" });
}

/**
 * Every flushed one-sector write into a partially present block is a log
 * entry of its own (the sector bitmap page; 8 KiB), so 150 of them go around
 * the 1 MiB log once. The first entry also holds the BAT page (12 KiB), which
 * shifts the later ones by 4 KiB: one of them is split by the end of the log.
 */
async function logWrapWorkload(): Promise<CrashWorkload> {
  const size = 8 * MiB;
  const blockSize = MiB;
  const parent = buildVhdx({ virtualSize: size, blockSize, type: "dynamic", blocks: fullyPresent(1, 2) });
  const child = await createdChild(parent.bytes, blockSize);
  const sectors = blockSize / 512;
  const steps: Step[] = [];
  for (let k = 0; k < 150; k++) {
    const offset = (1 + (k % 2)) * blockSize + ((k * 13) % sectors) * 512;
    steps.push({ kind: "write", offset, length: 512, value: 1 + (k % 250) }, { kind: "flush" });
  }
  const model = { initial: parent.expected, blockSize, parent: parent.expected };
  return finish({ name: "log-wrap", file: child, parent: parent.bytes, steps: withClose(steps), model, qemu: "none" });
}

async function metadataWorkload(random: Random): Promise<CrashWorkload> {
  const size = 8 * MiB;
  const blockSize = MiB;
  const setup: Step[] = [{ kind: "write", offset: 0, length: blockSize, value: 0xa0 }];
  const file = await createdImage({ size, blockSize }, setup);
  const large = "0000000f-5a5a-4b4b-8c8c-0123456789ab";
  const steps: Step[] = [
    {
      kind: "metadata",
      edit: { op: "set-user", itemId: large, length: LARGE_ITEM_LENGTH, value: 0xee, isVirtualDisk: false },
    },
    ...randomDataSteps(random, size, blockSize, 3, 30),
    { kind: "metadata", edit: { op: "remove-user", itemId: large } },
  ];
  for (let round = 0; round < 4; round++) {
    steps.push(...randomDataSteps(random, size, blockSize, 3, 40 + 10 * round));
    steps.push(...randomMetadataSteps(random, 3, 100 + 10 * round));
  }
  const model = { initial: afterSteps(new Uint8Array(size), setup, blockSize), blockSize };
  const image = await openImage(new MemorySource(file, { readOnly: true }));
  const metadata = await MetadataModel.of(image, withClose(steps));
  await image.close();
  return finish({ name: "metadata", file, steps: withClose(steps), model, metadata, qemu: "check and replay" });
}

/** The child's locator is rewritten as after a move (here the parent stays where the checkers find it: parent.vhdx). */
async function setParentWorkload(random: Random): Promise<CrashWorkload> {
  const size = 8 * MiB;
  const blockSize = MiB;
  const parent = buildVhdx({ virtualSize: size, blockSize, type: "dynamic", blocks: fullyPresent(0, 3) });
  const child = await createdChild(parent.bytes, blockSize);
  const locators: Record<string, string>[] = [
    { relative_path: `.\\${PARENT_FILE_NAME}`, absolute_win32_path: `\\\\?\\D:\\disks\\${PARENT_FILE_NAME}` },
    {
      relative_path: PARENT_FILE_NAME,
      volume_path: `\\\\?\\Volume{0d2e1c4b-0000-0000-0000-100000000000}\\${PARENT_FILE_NAME}`,
    },
    { relative_path: PARENT_FILE_NAME },
  ];
  const steps: Step[] = [];
  locators.forEach((paths, round) => {
    steps.push(...randomDataSteps(random, size, blockSize, 4, 50 + 10 * round));
    steps.push({ kind: "metadata", edit: { op: "set-parent", paths } });
    steps.push(...randomMetadataSteps(random, 1, 150 + round));
  });
  const parentImage = await openImage(new MemorySource(parent.bytes, { readOnly: true }));
  const childImage = await openImage(new MemorySource(child, { readOnly: true }), { parents: [parentImage] });
  const metadata = await MetadataModel.of(childImage, withClose(steps));
  await childImage.close();
  await parentImage.close();
  const model = { initial: parent.expected, blockSize, parent: parent.expected };
  return finish({
    name: "set-parent",
    file: child,
    parent: parent.bytes,
    steps: withClose(steps),
    model,
    metadata,
    qemu: "none",
  });
}

/** Discards in a child whose blocks are partially present (bits that must be cleared) and fully present. */
async function discardWorkload(random: Random): Promise<CrashWorkload> {
  const size = 6 * MiB;
  const blockSize = MiB;
  const parent = buildVhdx({ virtualSize: size, blockSize, type: "dynamic", blocks: fullyPresent(0, 1, 2, 3) });
  const child = buildVhdx(
    {
      virtualSize: size,
      blockSize,
      type: "differencing",
      parent: { dataWriteGuid: parent.dataWriteGuid, paths: { relative_path: PARENT_FILE_NAME } },
      blocks: {
        1: { state: STATE.PARTIALLY_PRESENT, presentSectors: (s) => s % 2 === 0 },
        2: { state: STATE.PARTIALLY_PRESENT, presentSectors: (s) => s % 5 === 1 },
        4: { state: STATE.FULLY_PRESENT },
      },
    },
    parent,
  );
  const steps = withClose([
    { kind: "discard", offset: MiB + 512, length: 2 * MiB, partial: "zero" },
    ...randomDiscardSteps(random, size, blockSize, 20),
  ]);
  const model = { initial: child.expected, blockSize, parent: parent.expected };
  return finish({ name: "discard", file: child.bytes, parent: parent.bytes, steps, model, qemu: "none" });
}

function fullyPresent(...blocks: number[]): Record<number, { state: number }> {
  return Object.fromEntries(blocks.map((block) => [block, { state: STATE.FULLY_PRESENT }]));
}

/** A new dynamic image made by our writer, with `setup` written and closed. */
async function createdImage(options: { size: number; blockSize: number }, setup: Step[]): Promise<Uint8Array> {
  const source = new MemorySource();
  await (await createImage(source, options)).close();
  return writtenImage(source.bytes(), null, setup);
}

/** A new differencing image made by our writer over the file `parent`, which its locator calls PARENT_FILE_NAME. */
async function createdChild(parent: Uint8Array, blockSize: number): Promise<Uint8Array> {
  const source = new MemorySource();
  const parentImage = await openImage(new MemorySource(parent, { readOnly: true }));
  await (
    await createImage(source, {
      type: "differencing",
      parent: parentImage,
      parentLocator: { relative_path: PARENT_FILE_NAME },
      blockSize,
    })
  ).close();
  return source.bytes().slice();
}

/** `file` after `setup` and a close, all through our writer, with no fault injected. */
async function writtenImage(file: Uint8Array, parent: Uint8Array | null, setup: Step[]): Promise<Uint8Array> {
  const source = new MemorySource(file.slice());
  const { error } = await runSteps(source, withClose(setup), { parent, mergeChild: null });
  if (error !== null) throw error;
  return source.bytes().slice();
}

/** The model's contents after `steps`, from `initial`. */
function afterSteps(
  initial: Uint8Array,
  steps: Step[],
  blockSize: number,
  parent: Uint8Array | null = null,
): Uint8Array {
  const model = new DiskModel(steps, {
    initial,
    initialSize: initial.length,
    blockSize,
    parent,
    merged: null,
    window: initial.length,
  });
  return model.contentsAfter(steps.length).slice();
}

/** What a workload is made of; the model is built from `model`, and what QEMU can do follows from `qemu`. */
interface WorkloadParts {
  name: CrashWorkloadName;
  file: Uint8Array;
  parent?: Uint8Array;
  mergeChild?: NonNullable<CrashWorkload["mergeChild"]>;
  steps: Step[];
  model: { initial: Uint8Array; blockSize: number; parent?: Uint8Array; merged?: Uint8Array; window?: number };
  /** "none": QEMU cannot open the image; "check": it checks the file after our replay; "check and replay": it replays our log too. */
  qemu: "none" | "check" | "check and replay";
  metadata?: MetadataModel;
}

function finish(parts: WorkloadParts): CrashWorkload {
  const { initial, blockSize } = parts.model;
  const model = new DiskModel(parts.steps, {
    initial,
    initialSize: initial.length,
    blockSize,
    parent: parts.model.parent ?? null,
    merged: parts.model.merged ?? null,
    window: parts.model.window ?? initial.length,
  });
  return {
    name: parts.name,
    file: parts.file,
    parent: parts.parent ?? null,
    mergeChild: parts.mergeChild ?? null,
    steps: parts.steps,
    model,
    metadata: parts.metadata ?? null,
    qemuCanOpen: parts.qemu !== "none",
    qemuReplaysLog: parts.qemu === "check and replay",
  };
}
