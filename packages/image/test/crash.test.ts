// Power cuts at every write and flush of a workload, with the unflushed
// writes dropped, kept at random (a write cache reorders) or torn. The image
// must open, replay, and hold every write a completed flush covered; bytes
// written after the last completed flush may hold either their old value or
// one of the values written since.
import { type Fixture, STATE, buildVhdx } from "@vhdx-tools/fixtures";
import { describe, expect, it } from "vitest";
import { MemorySource, VhdxError, openImage } from "../src/index.js";
import { FaultInjectingSource, type PowerCutMode } from "../src/testing/index.js";

const MiB = 1 << 20;

type Op =
  | { kind: "write"; offset: number; length: number; value: number }
  | { kind: "zero"; offset: number; length: number }
  | { kind: "discard"; offset: number; length: number }
  | { kind: "flush" };

function random(seed: number) {
  let state = seed >>> 0;
  return (limit: number) => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return Math.floor((state / 2 ** 32) * limit);
  };
}

/** A workload of writes (each with its own byte value), zero writes, discards and flushes. */
function makeWorkload(seed: number, size: number, blockSize: number, count: number): Op[] {
  const pick = random(seed);
  const ops: Op[] = [];
  for (let i = 0; i < count; i++) {
    const roll = pick(10);
    if (roll < 2) ops.push({ kind: "flush" });
    else if (roll < 3) {
      const block = pick(size / blockSize);
      const offset = block * blockSize + (pick(2) ? 0 : pick(1000));
      ops.push({ kind: "zero", offset, length: Math.min(blockSize, size - offset) });
    } else if (roll < 4) {
      ops.push({ kind: "discard", offset: pick(size / blockSize) * blockSize, length: blockSize });
    } else {
      const offset = pick(size - 1);
      ops.push({
        kind: "write",
        offset,
        length: Math.min(size - offset, 1 + pick(pick(2) ? 4096 : blockSize + 5000)),
        value: 1 + (i % 250),
      });
    }
  }
  ops.push({ kind: "flush" });
  return ops;
}

/** The model of the virtual disk after `op`. */
function applyToModel(model: Uint8Array, op: Op, blockSize: number, parent: Uint8Array | null): void {
  if (op.kind === "write") model.fill(op.value, op.offset, op.offset + op.length);
  else if (op.kind === "zero") model.fill(0, op.offset, Math.min(model.length, op.offset + op.length));
  else if (op.kind === "discard") {
    for (
      let block = Math.ceil(op.offset / blockSize) * blockSize;
      block + blockSize <= op.offset + op.length;
      block += blockSize
    ) {
      if (parent) model.set(parent.subarray(block, block + blockSize), block);
      else model.fill(0, block, block + blockSize);
    }
  }
}

interface Scenario {
  name: string;
  fixture: Fixture;
  parent: Fixture | null;
  blockSize: number;
}

function scenarios(): Scenario[] {
  const dynamic = buildVhdx({
    virtualSize: 6 * MiB,
    blockSize: MiB,
    type: "dynamic",
    blocks: { 1: { state: STATE.FULLY_PRESENT }, 4: { state: STATE.FULLY_PRESENT } },
  });
  const base = buildVhdx({
    virtualSize: 6 * MiB,
    blockSize: MiB,
    type: "dynamic",
    blocks: { 0: { state: STATE.FULLY_PRESENT }, 2: { state: STATE.FULLY_PRESENT }, 3: { state: STATE.FULLY_PRESENT } },
  });
  const child = buildVhdx(
    {
      virtualSize: 6 * MiB,
      blockSize: MiB,
      type: "differencing",
      parent: { dataWriteGuid: base.dataWriteGuid, paths: { relative_path: "base.vhdx" } },
      blocks: { 2: { state: STATE.PARTIALLY_PRESENT, presentSectors: (s) => s % 3 === 0 } },
    },
    base,
  );
  const base4k = buildVhdx({
    virtualSize: 6 * MiB,
    blockSize: 2 * MiB,
    logicalSectorSize: 4096,
    type: "dynamic",
    blocks: { 1: { state: STATE.FULLY_PRESENT } },
  });
  const child4k = buildVhdx(
    {
      virtualSize: 6 * MiB,
      blockSize: 2 * MiB,
      logicalSectorSize: 4096,
      type: "differencing",
      parent: { dataWriteGuid: base4k.dataWriteGuid, paths: { relative_path: "b" } },
    },
    base4k,
  );
  return [
    { name: "dynamic", fixture: dynamic, parent: null, blockSize: MiB },
    { name: "differencing", fixture: child, parent: base, blockSize: MiB },
    { name: "differencing, 4 KiB sectors", fixture: child4k, parent: base4k, blockSize: 2 * MiB },
  ];
}

async function open(bytes: Uint8Array, scenario: Scenario, readOnly: boolean) {
  const parents = scenario.parent ? [await openImage(new MemorySource(scenario.parent.bytes))] : [];
  return openImage(new MemorySource(bytes), { readOnly, parents });
}

/** Runs the workload until the power is cut; returns the index of the last op that completed. */
async function runUntilCut(source: FaultInjectingSource, scenario: Scenario, ops: Op[]): Promise<number> {
  const parents = scenario.parent ? [await openImage(new MemorySource(scenario.parent.bytes))] : [];
  let done = -1;
  try {
    const image = await openImage(source, { readOnly: false, parents });
    for (const [i, op] of ops.entries()) {
      if (op.kind === "write") await image.write(op.offset, new Uint8Array(op.length).fill(op.value));
      else if (op.kind === "zero") await image.writeZeroes(op.offset, op.length);
      else if (op.kind === "discard") await image.discard(op.offset, op.length);
      else await image.flush();
      done = i;
    }
    await image.close();
    done = ops.length;
  } catch (error) {
    if (!(VhdxError.isInstance(error) && error.code === "IO_ERROR")) throw error;
  }
  return done;
}

/** Models of the disk after each prefix of the workload, built once per scenario. */
function modelCache(scenario: Scenario, ops: Op[]) {
  const parentContents = scenario.parent?.expected ?? null;
  const models: Uint8Array[] = [scenario.fixture.expected];
  for (const op of ops) {
    const next = models[models.length - 1]!.slice();
    applyToModel(next, op, scenario.blockSize, parentContents);
    models.push(next);
  }
  /** The disk after ops[0..count). */
  return (count: number) => models[count]!;
}

/** Every byte holds the value at the last completed flush, or one written after it. */
function expectConsistent(
  actual: Uint8Array,
  ops: Op[],
  modelAfter: (count: number) => Uint8Array,
  lastDone: number,
  label: string,
): void {
  let lastFlush = -1;
  for (let i = 0; i <= Math.min(lastDone, ops.length - 1); i++) if (ops[i]!.kind === "flush") lastFlush = i;
  if (lastDone === ops.length) lastFlush = ops.length - 1;
  const flushed = modelAfter(lastFlush + 1);
  if (Buffer.compare(actual, flushed) === 0) return;
  // For each op after the flush: the value it left in the bytes it changed or touched.
  const parentOf = (count: number) => modelAfter(count);
  const laterCount = Math.min(ops.length, lastDone + 2) - (lastFlush + 1);
  const candidates = Array.from({ length: laterCount }, (_, k) => {
    const op = ops[lastFlush + 1 + k]!;
    const before = parentOf(lastFlush + 1 + k);
    const after = parentOf(lastFlush + 2 + k);
    return (i: number) =>
      op.kind === "flush" ? false : after[i] !== before[i] || touches(op, i) ? after[i] : undefined;
  });
  for (let page = 0; page < actual.length; page += 4096) {
    const end = Math.min(actual.length, page + 4096);
    if (Buffer.compare(actual.subarray(page, end), flushed.subarray(page, end)) === 0) continue;
    for (let i = page; i < end; i++) {
      if (actual[i] === flushed[i]) continue;
      if (candidates.some((written) => written(i) === actual[i])) continue;
      throw new Error(
        `${label}: byte ${i} is ${actual[i]}, flushed value ${flushed[i]}, no later write explains it (last completed op ${lastDone}, last flush ${lastFlush})`,
      );
    }
  }
}

function touches(op: Op, i: number): boolean {
  return op.kind !== "flush" && i >= op.offset && i < op.offset + op.length;
}

describe.each(scenarios().map((s) => [s.name, s] as const))("power cuts in a %s image", (_name, scenario) => {
  it("keeps every flushed write at every cut point, in every cut mode", async () => {
    const ops = makeWorkload(7, scenario.fixture.virtualSize, scenario.blockSize, 24);
    const modelAfter = modelCache(scenario, ops);
    const counter = new FaultInjectingSource(scenario.fixture.bytes);
    expect(await runUntilCut(counter, scenario, ops)).toBe(ops.length);
    const total = counter.operations;
    expect(total).toBeGreaterThan(10);
    const modes: PowerCutMode[] = ["drop", "keep-random", "tear"];
    for (let cut = 0; cut <= total; cut++) {
      await turnOfEventLoop();
      const source = new FaultInjectingSource(scenario.fixture.bytes, { cutAfterOperations: cut, seed: cut + 1 });
      const lastDone = await runUntilCut(source, scenario, ops);
      for (const mode of modes) {
        const label = `${scenario.name}, cut after ${cut} of ${total} operations, ${mode}`;
        const survivor = await source.powerCut(mode);
        const readOnly = await open(survivor, scenario, true).catch((error: unknown) => {
          throw new Error(`${label}: does not open: ${String(error)}`);
        });
        const contents = await readOnly.read(0, readOnly.virtualSize);
        expectConsistent(contents, ops, modelAfter, lastDone, label);
        if (mode === "tear") {
          const repaired = new MemorySource(survivor.slice());
          const writable = await open(repaired.bytes(), scenario, false);
          expect(
            Buffer.compare(await writable.read(0, writable.virtualSize), contents),
            `${label}: replay on disk differs from replay in memory`,
          ).toBe(0);
          await writable.close();
        }
      }
    }
  }, 240_000);
});

describe("a write that fails", () => {
  it("leaves the image readable and consistent when one I/O fails mid-flush", async () => {
    const scenario = scenarios()[0]!;
    const ops = makeWorkload(11, scenario.fixture.virtualSize, scenario.blockSize, 16);
    const modelAfter = modelCache(scenario, ops);
    const counter = new FaultInjectingSource(scenario.fixture.bytes);
    await runUntilCut(counter, scenario, ops);
    for (let failAt = 0; failAt < counter.operations; failAt += 3) {
      const source = new FaultInjectingSource(scenario.fixture.bytes, { failOperation: failAt });
      const lastDone = await runUntilCut(source, scenario, ops);
      const survivor = await source.powerCut("drop");
      const image = await open(survivor, scenario, true);
      expectConsistent(await image.read(0, image.virtualSize), ops, modelAfter, lastDone, `I/O ${failAt} failed`);
    }
  }, 120_000);
});

/** Lets vitest's RPC answers in: a loop over memory sources alone never leaves the microtask queue. */
function turnOfEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
