// Model-based tests of the write path: seeded random sequences of write,
// writeZeroes, discard, flush and close+reopen run against an image and, side
// by side, against a plain Uint8Array of the virtual disk. Reads are compared
// with the model along the way; at the end the image is reopened read-only and
// every byte is compared, and for QEMU-made images `qemu-img check` must be
// clean and `qemu-img convert -O raw` must equal the model.
//
// A failure message names the case and its seed. To replay one case with
// another seed: VHDX_WRITE_SEED=<n> npx vitest run test/write-model.test.ts -t "<case>".
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Fixture, type FixtureBlock, type FixtureSpec, STATE, buildVhdx } from "@vhdx-tools/fixtures";
import { afterAll, describe, expect, it } from "vitest";
import { MemorySource, type VhdxImage, openImage } from "../src/index.js";
import { openVhdx } from "../src/node/index.js";
import {
  oracle,
  oracles,
  pyvhdiRead,
  qemuCheck,
  qemuConvertToRaw,
  qemuCreate,
  qemuIo,
  tempDir,
} from "@vhdx-tools/oracles";

const KiB = 1024;
const MiB = 1 << 20;

// ---------------------------------------------------------------- randomness

type Rng = {
  /** An integer in [0, limit). */
  (limit: number): number;
  /** An integer in [min, max]. */
  between(min: number, max: number): number;
  chance(p: number): boolean;
};

/** mulberry32: small, fast, reproducible. */
function rng(seed: number): Rng {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  const r = ((limit: number) => Math.floor(next() * limit)) as Rng;
  r.between = (min, max) => min + Math.floor(next() * (max - min + 1));
  r.chance = (p) => next() < p;
  return r;
}

/** `length` bytes of seeded noise (never a long run of zeros). */
function noise(length: number, seed: number): Uint8Array {
  const words = new Uint32Array(Math.ceil(length / 4));
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    words[i] = x | 0x01010101; // no zero byte: a write of zeros would hide a lost write
  }
  return new Uint8Array(words.buffer, 0, length);
}

function hashSeed(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

function seedFor(label: string): number {
  const override = process.env.VHDX_WRITE_SEED;
  return override !== undefined && override !== "" ? Number(override) >>> 0 : hashSeed(label);
}

// ---------------------------------------------------------------- operations

type Op =
  | { kind: "write"; offset: number; length: number; dataSeed: number; shape: string }
  | { kind: "writeZeroes"; offset: number; length: number; shape: string }
  | { kind: "discard"; offset: number; length: number; shape: string }
  | { kind: "flush" }
  | { kind: "reopen" }
  /** Several operations issued at once, without waiting: they must apply in call order. */
  | { kind: "batch"; ops: Op[] };

function describeOp(op: Op): string {
  if (op.kind === "flush" || op.kind === "reopen") return op.kind;
  if (op.kind === "batch") return `batch[${op.ops.map(describeOp).join(", ")}]`;
  return `${op.kind}(${op.offset}, ${op.length}) [${op.shape}]`;
}

interface Shape {
  virtualSize: number;
  blockSize: number;
  sectorSize: number;
}

/** A range of a given shape, clipped to the disk. */
function randomRange(r: Rng, s: Shape, preferred: "any" | "data"): { offset: number; length: number; shape: string } {
  const { virtualSize, blockSize, sectorSize } = s;
  const blocks = Math.ceil(virtualSize / blockSize);
  const clip = (offset: number, length: number, shape: string) => {
    const start = Math.max(0, Math.min(offset, virtualSize - 1));
    return { offset: start, length: Math.max(1, Math.min(length, virtualSize - start)), shape };
  };
  const pick = r(preferred === "data" ? 8 : 7);
  switch (pick) {
    case 0: // tiny, anywhere
      return clip(r(virtualSize), r.between(1, 16), "tiny");
    case 1: // inside one or two sectors, unaligned
      return clip(r(virtualSize), r.between(1, 2 * sectorSize), "sub-sector");
    case 2: // medium, unaligned
      return clip(r(virtualSize), r.between(1, 256 * KiB), "medium");
    case 3: {
      // across a block boundary
      const boundary = r.between(1, Math.max(1, blocks - 1)) * blockSize;
      const before = r.between(1, 96 * KiB);
      return clip(boundary - before, before + r.between(1, 96 * KiB), "spanning");
    }
    case 4: {
      // one or two whole blocks
      const block = r(blocks);
      return clip(block * blockSize, blockSize * (blockSize <= 8 * MiB && r.chance(0.3) ? 2 : 1), "whole-block");
    }
    case 5: {
      // from inside a block to inside a later one, covering a whole block between (if there is one)
      const first = r(Math.max(1, blocks - 2));
      const start = first * blockSize + r.between(1, blockSize - 1);
      const end = Math.min(virtualSize, (first + 2) * blockSize + r(blockSize));
      return clip(start, Math.max(1, end - start), "multi-block");
    }
    case 6: {
      // the tail of the disk: the last, partial block
      const lastBlockStart = (blocks - 1) * blockSize;
      const start = r.chance(0.5) ? lastBlockStart : lastBlockStart + r(virtualSize - lastBlockStart);
      return clip(start, virtualSize - start, "tail");
    }
    default: {
      // sector-aligned, a few sectors
      const start = Math.floor(r(virtualSize) / sectorSize) * sectorSize;
      return clip(start, sectorSize * r.between(1, 64), "aligned-sectors");
    }
  }
}

function randomOp(r: Rng, s: Shape, top: boolean): Op {
  const roll = r(100);
  if (roll < 42) return { kind: "write", ...randomRange(r, s, "data"), dataSeed: r(2 ** 31) };
  if (roll < 58) return { kind: "writeZeroes", ...randomRange(r, s, "any") };
  if (roll < 74) return { kind: "discard", ...randomRange(r, s, "any") };
  if (roll < 86 || !top) return { kind: "flush" };
  if (roll < 93) return { kind: "batch", ops: Array.from({ length: r.between(2, 5) }, () => randomOp(r, s, false)) };
  return { kind: "reopen" };
}

// ---------------------------------------------------------------- the model

interface Model {
  bytes: Uint8Array;
  kind: "fixed" | "dynamic" | "differencing";
  blockSize: number;
  /** Differencing: what a NOT_PRESENT block reads as (the parent, zeros past its end). */
  parent: Uint8Array | null;
}

/** The whole blocks inside [offset, offset + length); the last block may be partial at the disk's end. */
function wholeBlocks(model: Model, offset: number, length: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  const size = model.bytes.length;
  const first = Math.ceil(offset / model.blockSize);
  for (let block = first; block * model.blockSize < offset + length; block++) {
    const start = block * model.blockSize;
    const end = Math.min(start + model.blockSize, size);
    if (end <= offset + length) out.push([start, end]);
  }
  return out;
}

function applyToModel(model: Model, op: Op): void {
  switch (op.kind) {
    case "write":
      model.bytes.set(noise(op.length, op.dataSeed), op.offset);
      return;
    case "writeZeroes":
      model.bytes.fill(0, op.offset, op.offset + op.length);
      return;
    case "batch":
      for (const inner of op.ops) applyToModel(model, inner);
      return;
    case "discard":
      if (model.kind === "fixed") return;
      for (const [start, end] of wholeBlocks(model, op.offset, op.length)) {
        if (model.kind === "differencing") model.bytes.set(model.parent!.subarray(start, end), start);
        else model.bytes.fill(0, start, end);
      }
      return;
    default:
  }
}

// ---------------------------------------------------------------- targets

/** An image under test, which can be opened again and again. */
interface Target {
  label: string;
  shape: Shape;
  kind: Model["kind"];
  /** The virtual disk before any operation. */
  initial: Uint8Array;
  parent: Uint8Array | null;
  open(readOnly: boolean): Promise<VhdxImage>;
  /** Closes an image from open() and keeps what it wrote. */
  close(image: VhdxImage): Promise<void>;
  /** The image file's bytes now (after close). */
  fileBytes(): Uint8Array;
  /** A fixed disk whose blocks are all FULLY_PRESENT: writes must go in place, nothing is allocated. */
  fixedAllPresent?: boolean;
  dispose(): Promise<void>;
}

const dir = tempDir("vhdx-write-model-");
afterAll(() => dir.remove());

/** An image file opened with openVhdx (parents found through the locator). */
function fileTarget(
  label: string,
  path: string,
  init: Omit<Target, "label" | "open" | "close" | "dispose" | "fileBytes">,
): Target {
  return {
    label,
    ...init,
    open: (readOnly) => openVhdx(path, { readOnly }),
    close: (image) => image.close(),
    fileBytes: () => new Uint8Array(readFileSync(path)),
    dispose: async () => undefined,
  };
}

/** A buildVhdx image in memory; a differencing one gets its (already opened, read-only) parent image. */
function memoryTarget(
  label: string,
  bytes: Uint8Array,
  init: Omit<Target, "label" | "open" | "close" | "dispose" | "fileBytes">,
  parentImage?: VhdxImage,
): Target {
  let current = bytes.slice();
  const sources = new Map<VhdxImage, MemorySource>();
  return {
    label,
    ...init,
    async open(readOnly) {
      const source = new MemorySource(current, { readOnly });
      const image = await openImage(source, { readOnly, ...(parentImage ? { parents: [parentImage] } : {}) });
      sources.set(image, source);
      return image;
    },
    async close(image) {
      await image.close();
      const source = sources.get(image)!;
      sources.delete(image);
      if (!source.readOnly) current = source.bytes().slice();
    },
    fileBytes: () => current,
    async dispose() {
      await parentImage?.close();
    },
  };
}

// ---------------------------------------------------------------- comparing

class Mismatch extends Error {}

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  // Fast path by 64 KiB slices, then byte by byte inside the first different one.
  for (let base = 0; base < n; base += 65536) {
    const end = Math.min(n, base + 65536);
    if (Buffer.compare(a.subarray(base, end), b.subarray(base, end)) !== 0) {
      for (let i = base; i < end; i++) if (a[i] !== b[i]) return i;
    }
  }
  return a.length === b.length ? -1 : n;
}

function hex(bytes: Uint8Array, at: number): string {
  return Buffer.from(bytes.subarray(at, at + 16)).toString("hex");
}

/** Throws (with seed, history and the first differing byte) unless `actual` equals `expected`. */
function assertSame(actual: Uint8Array, expected: Uint8Array, virtualOffset: number, context: () => string): void {
  if (actual.length === expected.length && Buffer.compare(actual, expected) === 0) return;
  const at = firstDifference(actual, expected);
  let runEnd = at;
  while (runEnd < actual.length && actual[runEnd] !== expected[runEnd]) runEnd++;
  throw new Mismatch(
    `${context()}\n  read of ${expected.length} bytes at ${virtualOffset}: first difference at virtual offset ${virtualOffset + at} ` +
      `(${runEnd - at} bytes differ from there)\n  got      ${hex(actual, at)}\n  expected ${hex(expected, at)}`,
  );
}

// ---------------------------------------------------------------- the runner

interface RunResult {
  ops: Op[];
  model: Uint8Array;
}

async function runSequence(target: Target, seed: number): Promise<RunResult> {
  const r = rng(seed);
  const { shape } = target;
  const model: Model = {
    bytes: target.initial.slice(),
    kind: target.kind,
    blockSize: shape.blockSize,
    parent: target.parent,
  };
  const count = r.between(30, 80);
  const history: Op[] = [];
  const context = () =>
    `[${target.label}] seed=${seed} (VHDX_WRITE_SEED=${seed}) after ${history.length} of ${count} ops; last ops:\n    ` +
    history
      .slice(-8)
      .map((op, i) => `#${history.length - Math.min(8, history.length) + i} ${describeOp(op)}`)
      .join("\n    ");

  const fileSizeBefore = target.fileBytes().length;
  let image = await target.open(false);
  try {
    // The starting point is what the model says.
    assertSame(await image.read(0, shape.virtualSize), model.bytes, 0, context);
    for (let i = 0; i < count; i++) {
      const op = randomOp(r, shape, true);
      history.push(op);
      if (op.kind === "reopen") {
        await target.close(image);
        image = await target.open(false);
      } else if (op.kind === "batch") {
        const issued = op.ops.map((inner) => issue(image, inner));
        await Promise.all(issued.map((i) => i.done));
        for (const i of issued) i.after();
      } else {
        const { done, after } = issue(image, op);
        await done;
        after();
      }
      applyToModel(model, op);
      for (const changed of op.kind === "batch" ? op.ops : [op]) {
        if (changed.kind === "flush" || changed.kind === "reopen" || changed.kind === "batch") continue;
        // The range just changed, with a margin of a sector either side.
        const from = Math.max(0, changed.offset - shape.sectorSize);
        const to = Math.min(shape.virtualSize, changed.offset + changed.length + shape.sectorSize);
        if (to - from <= 8 * MiB)
          assertSame(await image.read(from, to - from), model.bytes.subarray(from, to), from, context);
      }
      if (i % 4 === 3) await compareRandomReads(image, model.bytes, r, shape, context);
    }
    await target.close(image);
  } catch (error) {
    // Close what is open, but report the first failure.
    await target.close(image).catch(() => undefined);
    if (error instanceof Mismatch) throw error;
    throw new Error(`${context()}\n  threw: ${(error as Error).stack ?? error}`, { cause: error });
  }

  // Every byte, read-only.
  const readOnly = await target.open(true);
  try {
    expect(readOnly.readOnly).toBe(true);
    expect(readOnly.logGuid, `${context()}: LogGuid after close`).toBe("00000000-0000-0000-0000-000000000000");
    expect(readOnly.needsReplay).toBe(false);
    if (target.fixedAllPresent) {
      // LeaveBlockAllocated: zeros were written in place, discards ignored, no block moved or was added.
      const bat = await readOnly.bat();
      const states = Array.from({ length: Math.ceil(shape.virtualSize / shape.blockSize) }, (_, block) =>
        bat.payloadState(block),
      );
      expect(
        states.every((state) => state === STATE.FULLY_PRESENT),
        `${context()}: block states of a fixed disk after the sequence: ${states}`,
      ).toBe(true);
    }
    for (let at = 0; at < shape.virtualSize; at += 16 * MiB) {
      const length = Math.min(16 * MiB, shape.virtualSize - at);
      assertSame(
        await readOnly.read(at, length),
        model.bytes.subarray(at, at + length),
        at,
        () => `${context()}\n  (final read-only comparison)`,
      );
    }
  } finally {
    await target.close(readOnly);
  }
  if (target.fixedAllPresent)
    expect(target.fileBytes().length, `${context()}: a fixed disk's file grew`).toBe(fileSizeBefore);
  return { ops: history, model: model.bytes };
}

/** Starts one operation (not reopen or batch); `after` runs once it is done. */
function issue(image: VhdxImage, op: Op): { done: Promise<void>; after: () => void } {
  switch (op.kind) {
    case "write": {
      let data = noise(op.length, op.dataSeed);
      if (op.dataSeed % 3 === 0) {
        // A view into a larger buffer (nonzero byteOffset), as callers often pass.
        const larger = new Uint8Array(op.length + 24).fill(0xdd);
        larger.set(data, 11);
        data = larger.subarray(11, 11 + op.length);
      }
      // After completion the image must not keep using the caller's buffer.
      return { done: image.write(op.offset, data), after: () => data.fill(0xee) };
    }
    case "writeZeroes":
      return { done: image.writeZeroes(op.offset, op.length), after: () => undefined };
    case "discard":
      return { done: image.discard(op.offset, op.length).then(() => undefined), after: () => undefined };
    case "flush":
      return { done: image.flush(), after: () => undefined };
    default:
      throw new Error(`test bug: cannot issue ${op.kind}`);
  }
}

/** A few reads: random ranges, one across a block boundary, and one through readInto with guard bytes. */
async function compareRandomReads(
  image: VhdxImage,
  model: Uint8Array,
  r: Rng,
  s: Shape,
  context: () => string,
): Promise<void> {
  for (let k = 0; k < 3; k++) {
    const offset = r(s.virtualSize);
    const length = Math.min(r.between(1, 512 * KiB), s.virtualSize - offset);
    assertSame(await image.read(offset, length), model.subarray(offset, offset + length), offset, context);
  }
  const blocks = Math.ceil(s.virtualSize / s.blockSize);
  if (blocks > 1) {
    const boundary = r.between(1, blocks - 1) * s.blockSize;
    const from = Math.max(0, boundary - r.between(1, 8 * KiB));
    const to = Math.min(s.virtualSize, boundary + r.between(1, 8 * KiB));
    assertSame(await image.read(from, to - from), model.subarray(from, to), from, context);
  }
  const offset = r(s.virtualSize);
  const length = Math.min(r.between(1, 64 * KiB), s.virtualSize - offset);
  const buffer = new Uint8Array(length + 64).fill(0xa5);
  await image.readInto(buffer.subarray(32, 32 + length), offset);
  assertSame(buffer.subarray(32, 32 + length), model.subarray(offset, offset + length), offset, context);
  const guards = [...buffer.subarray(0, 32), ...buffer.subarray(32 + length)];
  if (guards.some((b) => b !== 0xa5)) throw new Mismatch(`${context()}\n  readInto wrote outside its buffer`);
}

// ---------------------------------------------------------------- QEMU-made images (512-byte sectors)

interface QemuCase {
  subformat: "fixed" | "dynamic";
  blockSize: number;
  size: number;
  blockStateZero?: boolean;
}

const QEMU_CASES: QemuCase[] = [
  { subformat: "dynamic", blockSize: 1 * MiB, size: 13 * MiB + 7 * 512 },
  { subformat: "dynamic", blockSize: 8 * MiB, size: 44 * MiB + 512 },
  { subformat: "dynamic", blockSize: 32 * MiB, size: 56 * MiB + 3 * 4096 + 512 },
  { subformat: "fixed", blockSize: 1 * MiB, size: 9 * MiB + 1536, blockStateZero: false },
  { subformat: "fixed", blockSize: 8 * MiB, size: 27 * MiB + 512, blockStateZero: true },
  { subformat: "fixed", blockSize: 32 * MiB, size: 40 * MiB + 1024, blockStateZero: false },
];

describe.skipIf(!oracles("qemu-img", "qemu-io"))("QEMU-made images, 512-byte sectors", () => {
  for (const c of QEMU_CASES) {
    const bsz = c.blockStateZero === undefined ? "" : `, block_state_zero=${c.blockStateZero ? "on" : "off"}`;
    const label = `qemu ${c.subformat} ${c.blockSize / MiB} MiB blocks, ${c.size} bytes${bsz}`;
    it(label, async () => {
      const path = dir.file(`qemu-${c.subformat}-${c.blockSize}-${c.size}.vhdx`);
      qemuCreate(path, {
        size: c.size,
        subformat: c.subformat,
        blockSize: c.blockSize,
        ...(c.blockStateZero === undefined ? {} : { blockStateZero: c.blockStateZero }),
      });
      // Some data QEMU wrote itself, so the sequence starts from allocated and unallocated blocks.
      const initial = new Uint8Array(c.size);
      const qemuWrites: Array<[pattern: number, offset: number, length: number]> = [
        [0x5a, 0, c.blockSize / 2],
        [0x3c, c.blockSize + 4096, 8192],
      ];
      qemuIo(
        path,
        qemuWrites.map(([p, o, l]) => `write -P 0x${p.toString(16)} ${o} ${l}`),
      );
      for (const [p, o, l] of qemuWrites) initial.fill(p, o, o + l);

      const target = fileTarget(label, path, {
        shape: { virtualSize: c.size, blockSize: c.blockSize, sectorSize: 512 },
        kind: c.subformat,
        initial,
        parent: null,
        fixedAllPresent: c.subformat === "fixed" && c.blockStateZero === false,
      });
      const probe = await openVhdx(path);
      expect([probe.virtualSize, probe.blockSize, probe.logicalSectorSize, probe.diskType]).toEqual([
        c.size,
        c.blockSize,
        512,
        c.subformat,
      ]);
      await probe.close();

      const seed = seedFor(label);
      const { model } = await runSequence(target, seed);

      // QEMU's view of the result.
      const where = `[${label}] seed=${seed}`;
      try {
        qemuCheck(path);
      } catch (error) {
        throw new Error(`${where}: qemu-img check failed: ${(error as Error).message}`);
      }
      const raw = dir.file(`qemu-${c.subformat}-${c.blockSize}-${c.size}.raw`);
      qemuConvertToRaw(path, raw);
      const converted = new Uint8Array(readFileSync(raw));
      assertSame(converted, model, 0, () => `${where}: qemu-img convert -O raw differs from the model`);
    });
  }
});

// ---------------------------------------------------------------- buildVhdx images

/**
 * Dynamic: blocks in every state a dynamic disk can hold, where they fit.
 * Fixed: every block FULLY_PRESENT (the generator's default), some with data.
 */
function baseBlocks(blocks: number, fixed: boolean): Record<number, FixtureBlock> {
  const out: Record<number, FixtureBlock> = { 0: { state: STATE.FULLY_PRESENT } };
  if (blocks > 2) out[2] = { state: fixed ? STATE.FULLY_PRESENT : STATE.ZERO };
  if (blocks > 3 && !fixed) out[3] = { state: STATE.UNMAPPED };
  if (blocks > 4 && !fixed) out[4] = { state: STATE.UNDEFINED };
  if (blocks > 5) out[blocks - 1] = { state: STATE.FULLY_PRESENT }; // the last, partial block
  return out;
}

function fixtureTarget(label: string, spec: FixtureSpec): Target {
  const f = buildVhdx(spec);
  return memoryTarget(label, f.bytes, {
    shape: { virtualSize: spec.virtualSize, blockSize: spec.blockSize, sectorSize: spec.logicalSectorSize ?? 512 },
    kind: spec.type,
    initial: f.expected,
    parent: null,
    fixedAllPresent: spec.type === "fixed",
  });
}

// libvhdi: a second, independent reader, and the only one for 4096-byte sectors (QEMU 7.2 opens only
// 512). Its known bugs concern differencing images only, so it checks these and not the chains.
const hasLibvhdi = oracle("pyvhdi");

describe("buildVhdx dynamic and fixed images", () => {
  const cases: Array<{ label: string; spec: FixtureSpec }> = [
    {
      label: "dynamic, 512-byte sectors, 2 MiB blocks",
      spec: { virtualSize: 12 * MiB + 5 * 512, blockSize: 2 * MiB, logicalSectorSize: 512, type: "dynamic" },
    },
    {
      label: "dynamic, 4096-byte sectors, 1 MiB blocks",
      spec: { virtualSize: 10 * MiB + 5 * 4096, blockSize: MiB, logicalSectorSize: 4096, type: "dynamic" },
    },
    {
      label: "dynamic, 4096-byte sectors, 8 MiB blocks",
      spec: { virtualSize: 36 * MiB + 4096, blockSize: 8 * MiB, logicalSectorSize: 4096, type: "dynamic" },
    },
    {
      label: "fixed, 4096-byte sectors, 1 MiB blocks",
      spec: { virtualSize: 9 * MiB + 3 * 4096, blockSize: MiB, logicalSectorSize: 4096, type: "fixed" },
    },
    {
      label: "fixed, 512-byte sectors, 2 MiB blocks",
      spec: { virtualSize: 10 * MiB + 512, blockSize: 2 * MiB, logicalSectorSize: 512, type: "fixed" },
    },
  ];
  for (const { label, spec } of cases) {
    it(label, async () => {
      const blocks = Math.ceil(spec.virtualSize / spec.blockSize);
      const target = fixtureTarget(`buildVhdx ${label}`, {
        ...spec,
        blocks: baseBlocks(blocks, spec.type === "fixed"),
      });
      const seed = seedFor(target.label);
      const { model } = await runSequence(target, seed);
      await target.dispose();
      if (hasLibvhdi) {
        const path = dir.file(`libvhdi-${hashSeed(label)}.vhdx`);
        writeFileSync(path, target.fileBytes());
        assertSame(
          pyvhdiRead(path, [[0, spec.virtualSize]]),
          model,
          0,
          () => `[${target.label}] seed=${seed}: libvhdi's read after close differs from the model`,
        );
      }
    });
  }
});

// ---------------------------------------------------------------- differencing chains (buildVhdx)

const everyOther = (sector: number) => sector % 2 === 0;

interface ChainCase {
  label: string;
  sectorSize: 512 | 4096;
  blockSize: number;
  parentSize: number;
  childSize: number;
  /** Put the chain in files and open the child with openVhdx (parents through relative_path). */
  onDisk?: boolean;
  /** A grandparent below the parent. */
  threeLevels?: boolean;
  /** Give the child PARTIALLY_PRESENT blocks (so it starts with a sector bitmap block). */
  partial?: boolean;
}

const CHAIN_CASES: ChainCase[] = [
  {
    label: "512-byte sectors, 1 MiB blocks, files",
    sectorSize: 512,
    blockSize: MiB,
    parentSize: 8 * MiB + 3 * 512,
    childSize: 8 * MiB + 3 * 512,
    onDisk: true,
    partial: true,
  },
  {
    label: "512-byte sectors, 2 MiB blocks, three levels",
    sectorSize: 512,
    blockSize: 2 * MiB,
    parentSize: 12 * MiB,
    childSize: 12 * MiB + 512,
    threeLevels: true,
    partial: true,
  },
  {
    label: "4096-byte sectors, 1 MiB blocks, no bitmap yet",
    sectorSize: 4096,
    blockSize: MiB,
    parentSize: 9 * MiB + 4096,
    childSize: 9 * MiB + 4096,
    partial: false,
  },
  {
    label: "4096-byte sectors, 2 MiB blocks, child larger than parent",
    sectorSize: 4096,
    blockSize: 2 * MiB,
    parentSize: 10 * MiB,
    childSize: 14 * MiB + 8192,
    partial: true,
  },
];

function buildChain(c: ChainCase) {
  const common = { blockSize: c.blockSize, logicalSectorSize: c.sectorSize } as const;
  const parentBlocks = Math.ceil(c.parentSize / c.blockSize);
  const presentEverywhere: Record<number, FixtureBlock> = {};
  for (let b = 0; b < parentBlocks; b++) if (b % 3 !== 2) presentEverywhere[b] = { state: STATE.FULLY_PRESENT };
  let grandparent: Fixture | undefined;
  let parent: Fixture;
  if (c.threeLevels) {
    grandparent = buildVhdx({ ...common, virtualSize: c.parentSize, type: "dynamic", blocks: presentEverywhere });
    parent = buildVhdx(
      {
        ...common,
        virtualSize: c.parentSize,
        type: "differencing",
        parent: { dataWriteGuid: grandparent.dataWriteGuid, paths: { relative_path: ".\\grandparent.vhdx" } },
        blocks: {
          0: { state: STATE.PARTIALLY_PRESENT, presentSectors: (s) => s % 5 === 0 },
          1: { state: STATE.ZERO },
          3: { state: STATE.FULLY_PRESENT },
        },
      },
      grandparent,
    );
  } else {
    parent = buildVhdx({ ...common, virtualSize: c.parentSize, type: "dynamic", blocks: presentEverywhere });
  }
  const childBlocks = Math.ceil(c.childSize / c.blockSize);
  const blocks: Record<number, FixtureBlock> = {
    0: { state: STATE.FULLY_PRESENT },
    2: { state: STATE.ZERO },
    3: { state: STATE.UNMAPPED },
  };
  if (c.partial) {
    blocks[1] = { state: STATE.PARTIALLY_PRESENT, presentSectors: everyOther };
    blocks[4] = { state: STATE.PARTIALLY_PRESENT, presentSectors: (s) => s < 7 };
  }
  if (childBlocks > 6) blocks[childBlocks - 1] = { state: STATE.PARTIALLY_PRESENT, presentSectors: (s) => s % 3 === 1 };
  if (!c.partial) delete blocks[childBlocks - 1];
  const child = buildVhdx(
    {
      ...common,
      virtualSize: c.childSize,
      type: "differencing",
      parent: { dataWriteGuid: parent.dataWriteGuid, paths: { relative_path: ".\\parent.vhdx" } },
      blocks,
    },
    parent,
  );
  // What a NOT_PRESENT block of the child reads as.
  const parentView = new Uint8Array(c.childSize);
  parentView.set(parent.expectedAt(0, Math.min(c.parentSize, c.childSize)));
  return { grandparent, parent, child, parentView };
}

describe("differencing chains (buildVhdx)", () => {
  for (const c of CHAIN_CASES) {
    it(c.label, async () => {
      const label = `differencing ${c.label}`;
      const { grandparent, parent, child, parentView } = buildChain(c);
      const init = {
        shape: { virtualSize: c.childSize, blockSize: c.blockSize, sectorSize: c.sectorSize },
        kind: "differencing" as const,
        initial: child.expected,
        parent: parentView,
      };
      let target: Target;
      if (c.onDisk) {
        const chainDir = join(dir.path, `chain-${hashSeed(c.label)}`);
        mkdirSync(chainDir, { recursive: true });
        writeFileSync(join(chainDir, "parent.vhdx"), parent.bytes);
        if (grandparent) writeFileSync(join(chainDir, "grandparent.vhdx"), grandparent.bytes);
        writeFileSync(join(chainDir, "child.vhdx"), child.bytes);
        target = fileTarget(label, join(chainDir, "child.vhdx"), init);
      } else {
        const grandparentImage = grandparent ? await openImage(new MemorySource(grandparent.bytes)) : undefined;
        const parentImage = await openImage(
          new MemorySource(parent.bytes),
          grandparentImage ? { parents: [grandparentImage] } : {},
        );
        target = memoryTarget(label, child.bytes, init, parentImage);
        const dispose = target.dispose;
        target.dispose = async () => {
          await dispose();
          await grandparentImage?.close();
        };
      }
      try {
        const first = await target.open(true);
        expect(first.diskType).toBe("differencing");
        expect(first.logicalSectorSize).toBe(c.sectorSize);
        await target.close(first);
        await runSequence(target, seedFor(label));
      } finally {
        await target.dispose();
      }
      // The parents were opened read-only and must be untouched.
      if (c.onDisk) {
        const chainDir = join(dir.path, `chain-${hashSeed(c.label)}`);
        expect(Buffer.compare(readFileSync(join(chainDir, "parent.vhdx")), parent.bytes)).toBe(0);
      }
    });
  }
});

// ---------------------------------------------------------------- sparse chains across a chunk boundary

/**
 * The image seen through a window [base, base + length): offsets of reads and
 * writes are moved by `base`, so the random sequence runs on a stretch of a
 * disk too large to model whole.
 */
function windowed(image: VhdxImage, base: number): VhdxImage {
  return new Proxy(image, {
    get(target, property) {
      switch (property) {
        case "read":
          return (offset: number, length: number) => target.read(base + offset, length);
        case "readInto":
          return (buffer: Uint8Array, offset: number) => target.readInto(buffer, base + offset);
        case "write":
          return (offset: number, data: Uint8Array) => target.write(base + offset, data);
        case "writeZeroes":
          return (offset: number, length: number) => target.writeZeroes(base + offset, length);
        case "discard":
          return (offset: number, length: number) => target.discard(base + offset, length);
        default: {
          const value: unknown = Reflect.get(target, property, target);
          return typeof value === "function" ? value.bind(target) : value;
        }
      }
    },
  });
}

interface ChunkCase {
  label: string;
  sectorSize: 512 | 4096;
  blockSize: number;
  /** The first chunk boundary: 2^23 sectors. */
  edge: number;
}

const CHUNK_CASES: ChunkCase[] = [
  { label: "512-byte sectors, 1 MiB blocks, around 4 GiB", sectorSize: 512, blockSize: MiB, edge: 4 * 1024 * MiB },
  {
    label: "4096-byte sectors, 2 MiB blocks, around 32 GiB",
    sectorSize: 4096,
    blockSize: 2 * MiB,
    edge: 32 * 1024 * MiB,
  },
];

describe("sparse differencing chains, written across the first chunk boundary (two sector bitmap blocks)", () => {
  for (const c of CHUNK_CASES) {
    it(c.label, async () => {
      const label = `chunk boundary ${c.label}`;
      const B = c.blockSize;
      const size = c.edge + 8 * B + c.sectorSize;
      const edgeBlock = c.edge / B;
      const common = { virtualSize: size, blockSize: B, logicalSectorSize: c.sectorSize } as const;
      const parent = buildVhdx({
        ...common,
        type: "dynamic",
        blocks: {
          0: { state: STATE.FULLY_PRESENT },
          [edgeBlock - 3]: { state: STATE.FULLY_PRESENT },
          [edgeBlock - 1]: { state: STATE.FULLY_PRESENT },
          [edgeBlock]: { state: STATE.FULLY_PRESENT },
          [edgeBlock + 2]: { state: STATE.FULLY_PRESENT },
        },
      });
      const child = buildVhdx(
        {
          ...common,
          type: "differencing",
          parent: { dataWriteGuid: parent.dataWriteGuid, paths: { relative_path: ".\\parent.vhdx" } },
          blocks: {
            [edgeBlock - 2]: { state: STATE.PARTIALLY_PRESENT, presentSectors: everyOther }, // chunk 0 has a bitmap
            [edgeBlock + 1]: { state: STATE.FULLY_PRESENT }, // chunk 1 has none yet
          },
        },
        parent,
      );
      // The window: three blocks either side of the boundary.
      const base = c.edge - 3 * B;
      const length = 6 * B;
      const parentImage = await openImage(new MemorySource(parent.bytes));
      const inner = memoryTarget(
        label,
        child.bytes,
        {
          shape: { virtualSize: size, blockSize: B, sectorSize: c.sectorSize },
          kind: "differencing",
          initial: new Uint8Array(0),
          parent: null,
        },
        parentImage,
      );
      const views = new Map<VhdxImage, VhdxImage>();
      const target: Target = {
        label,
        shape: { virtualSize: length, blockSize: B, sectorSize: c.sectorSize },
        kind: "differencing",
        initial: child.expectedAt(base, length),
        parent: parent.expectedAt(base, length),
        async open(readOnly) {
          const image = await inner.open(readOnly);
          const view = windowed(image, base);
          views.set(view, image);
          return view;
        },
        close: (view) => inner.close(views.get(view)!),
        fileBytes: () => inner.fileBytes(),
        dispose: () => inner.dispose(),
      };
      try {
        await runSequence(target, seedFor(label));
        // Outside the window nothing changed: the child's first block, and the stretch just past the window.
        const after = await openImage(new MemorySource(inner.fileBytes()), { parents: [parentImage] });
        for (const [offset, span] of [
          [0, B],
          [base - 4096, 4096],
          [base + length, 2 * B],
        ] as const) {
          assertSame(
            await after.read(offset, span),
            child.expectedAt(offset, span),
            offset,
            () => `[${label}] outside the window`,
          );
        }
        await after.close();
      } finally {
        await target.dispose();
      }
    });
  }
});
