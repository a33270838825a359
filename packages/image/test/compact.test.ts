// Compact: all-zero blocks become unallocated and the file shrinks, while the
// virtual disk reads exactly as before. Checked against QEMU (qemu-img check,
// qemu-img convert), on a differencing chain, and under a power cut at every
// operation of a compact run.
import { readFileSync, statSync } from "node:fs";
import { STATE, buildVhdx } from "@vhdx-tools/fixtures";
import { PAYLOAD_BLOCK_FULLY_PRESENT } from "@vhdx/structs";
import { afterAll, describe, expect, it } from "vitest";
import { MemorySource, VhdxError, type VhdxImage, openImage } from "../src/index.js";
import { FaultInjectingSource, type PowerCutMode } from "../src/testing/index.js";
import { type CompactResult, compactImage } from "../src/maintain/compact.js";
import { compactVhdx } from "../src/node/compact-vhdx.js";
import { createVhdx, openVhdx } from "../src/node/index.js";
import { oracles, qemuCheck, qemuConvertToRaw, qemuCreate, qemuIo, tempDir } from "@vhdx-tools/oracles";

const MiB = 1 << 20;
const dir = tempDir("vhdx-compact-");
afterAll(() => dir.remove());

const hasQemu = oracles("qemu-img", "qemu-io");

async function contentsOf(path: string): Promise<Uint8Array> {
  const image = await openVhdx(path);
  try {
    return await image.read(0, image.virtualSize);
  } finally {
    await image.close();
  }
}

async function countFullyPresent(image: VhdxImage): Promise<number> {
  const table = await image.bat();
  let count = 0;
  for (let block = 0; block < table.geometry.payloadBlockCount; block++) {
    if (table.payloadState(block) === PAYLOAD_BLOCK_FULLY_PRESENT) count++;
  }
  return count;
}

function expectSameBytes(actual: Uint8Array, expected: Uint8Array, label: string): void {
  expect(actual.length, label).toBe(expected.length);
  if (Buffer.compare(actual, expected) === 0) return;
  const at = actual.findIndex((b, i) => b !== expected[i]);
  throw new Error(`${label}: byte ${at} is ${actual[at]}, was ${expected[at]}`);
}

describe.skipIf(!hasQemu)("compact on images QEMU made", () => {
  it("frees all-zero blocks, moves blocks down, shrinks the file; QEMU agrees and reads the same", async () => {
    const file = dir.file("qemu.vhdx");
    qemuCreate(file, { size: 64 * MiB, subformat: "dynamic", blockSize: MiB });
    qemuIo(file, [
      "write -P 0x61 0 2M",
      "write -P 0 4M 4M", // allocated, all zeros: 4 blocks
      "write -z 10M 2M", // QEMU allocates these too and writes zeros: 2 more
      "write -P 0x62 40M 1M",
      "write -P 0 60M 2M", // 2 more
      "write -P 0x63 62M 1M",
      "write -P 0x64 63M 512",
    ]);
    const ours = await openVhdx(file, { readOnly: false });
    await ours.write(20 * MiB, new Uint8Array(MiB)); // one more allocated all-zero block
    await ours.write(30 * MiB + 100, new Uint8Array(5000).fill(0x65));
    await ours.write(50 * MiB, new Uint8Array(2 * MiB).fill(0x66));
    await ours.discard(50 * MiB, MiB);
    await ours.write(0, new Uint8Array(1000)); // zeros inside a block with data: it stays
    await ours.close();
    const before = await contentsOf(file);
    const rawBefore = dir.file("before.raw");
    qemuConvertToRaw(file, rawBefore);
    const sizeBefore = statSync(file).size;

    const result = await compactVhdx(file);

    expect(result.zeroedBlocks).toBe(9);
    expect(result.movedBlocks).toBeGreaterThan(0);
    expect(result.fileSizeBefore).toBe(sizeBefore);
    expect(result.fileSizeAfter).toBe(statSync(file).size);
    expect(result.fileSizeAfter).toBeLessThanOrEqual(sizeBefore - 9 * MiB);
    expectSameBytes(await contentsOf(file), before, "contents after compact");
    qemuCheck(file);
    const rawAfter = dir.file("after.raw");
    qemuConvertToRaw(file, rawAfter);
    expectSameBytes(readFileSync(rawAfter), readFileSync(rawBefore), "qemu-img convert after compact");
    qemuIo(file, ["read -P 0x63 62M 1M", "read -P 0 4M 4M", "read -P 0 0 1000", "read -P 0x61 1M 1M"], {
      readOnly: true,
    });

    const image = await openVhdx(file);
    const table = await image.bat();
    const ends = [...Array(table.geometry.payloadBlockCount).keys()]
      .filter((b) => table.payloadState(b) === PAYLOAD_BLOCK_FULLY_PRESENT)
      .map((b) => table.payloadFileOffset(b) + MiB);
    expect(Math.max(...ends, ...image.layout.extents.map((e) => e.offset + e.length))).toBe(result.fileSizeAfter);
    await image.close();

    const again = await compactVhdx(file);
    expect(again).toEqual({
      zeroedBlocks: 0,
      movedBlocks: 0,
      fileSizeBefore: result.fileSizeAfter,
      fileSizeAfter: result.fileSizeAfter,
    });
  });

  it("reports progress through both phases", async () => {
    const file = dir.file("progress.vhdx");
    qemuCreate(file, { size: 8 * MiB, subformat: "dynamic", blockSize: MiB });
    qemuIo(file, ["write -P 0 0 1M", "write -P 0x41 7M 1M"]);
    const phases: string[] = [];
    const result = await compactVhdx(file, { onProgress: (p) => phases.push(`${p.phase} ${p.done}/${p.total}`) });
    expect(result).toMatchObject({ zeroedBlocks: 1, movedBlocks: 1 });
    expect(phases[0]).toBe("zero 0/8");
    expect(phases).toContain("zero 8/8");
    expect(phases[phases.length - 1]).toBe("move 1/1");
    qemuCheck(file);
    qemuIo(file, ["read -P 0 0 7M", "read -P 0x41 7M 1M"], { readOnly: true });
  });
});

describe("compact on our own images", () => {
  it("keeps a differencing chain's contents: zeros over parent data stay zeros", async () => {
    const basePath = dir.file("base.vhdx");
    const base = await createVhdx(basePath, { type: "dynamic", size: 16 * MiB, blockSize: MiB });
    await base.write(0, new Uint8Array(8 * MiB).fill(0x11));
    await base.close();
    const childPath = dir.file("child.vhdx");
    const child = await createVhdx(childPath, { type: "differencing", parent: basePath });
    await child.write(MiB, new Uint8Array(MiB)); // zeros over a whole parent block
    await child.write(3 * MiB, new Uint8Array(MiB)); // and another
    await child.write(5 * MiB + 4096, new Uint8Array(8192)); // zeros over part of one: parent shows around them
    await child.write(12 * MiB, new Uint8Array(MiB).fill(0x22));
    await child.write(14 * MiB, new Uint8Array(MiB).fill(0x33));
    await child.close();
    const before = await contentsOf(childPath);
    const sizeBefore = statSync(childPath).size;
    const allocatedZeros = await (async () => {
      const image = await openVhdx(childPath);
      const table = await image.bat();
      const count = [1, 3].filter((b) => table.payloadState(b) >= 6).length;
      await image.close();
      return count;
    })();
    expect(allocatedZeros).toBe(2);

    const result = await compactVhdx(childPath);

    expect(result.zeroedBlocks).toBe(2);
    expect(result.fileSizeAfter).toBeLessThan(sizeBefore);
    expectSameBytes(await contentsOf(childPath), before, "chain contents after compact");
    expect(Buffer.from((await contentsOf(childPath)).subarray(MiB, 2 * MiB)).every((b) => b === 0)).toBe(true);
    // (QEMU cannot open differencing VHDX files: no qemu-img check here.)
  });

  it("refuses a fixed disk with UNSUPPORTED and leaves the file untouched", async () => {
    const path = dir.file("fixed.vhdx");
    const image = await createVhdx(path, { type: "fixed", size: 4 * MiB, blockSize: MiB });
    await image.close();
    const bytes = readFileSync(path);
    const error = await compactVhdx(path).catch((e: unknown) => e);
    expect(VhdxError.isInstance(error) && error.code).toBe("UNSUPPORTED");
    expect(String((error as Error).message)).toMatch(/fixed/);
    expect(Buffer.compare(readFileSync(path), bytes)).toBe(0);
  });

  it("refuses an image open read-only with READ_ONLY", async () => {
    const path = dir.file("ro.vhdx");
    await (await createVhdx(path, { type: "dynamic", size: 4 * MiB })).close();
    const image = await openVhdx(path);
    const error = await compactImage(image).catch((e: unknown) => e);
    await image.close();
    expect(VhdxError.isInstance(error) && error.code).toBe("READ_ONLY");
  });
});

// ---------------------------------------------------------------- power cuts

interface CrashScenario {
  name: string;
  /** The image file, and its parent's, before compact. */
  bytes: Uint8Array;
  parent: Uint8Array | null;
  /** FULLY_PRESENT blocks left after compact. */
  fullyPresentAfter: number;
  zeroedBlocks: number;
  /** Payload and sector bitmap blocks moved. */
  movedBlocks: number;
}

/** Allocated all-zero blocks below blocks holding data, in a dynamic and in a differencing image. */
async function crashScenarios(): Promise<CrashScenario[]> {
  const blocks: Record<number, { state: number }> = {};
  for (const b of [0, 1, 2, 3, 5, 6, 7]) blocks[b] = { state: STATE.FULLY_PRESENT };
  const dynamic = buildVhdx({ virtualSize: 8 * MiB, blockSize: MiB, type: "dynamic", blocks });
  const base = buildVhdx({
    virtualSize: 8 * MiB,
    blockSize: MiB,
    type: "dynamic",
    blocks: { 0: { state: STATE.FULLY_PRESENT }, 1: { state: STATE.FULLY_PRESENT }, 3: { state: STATE.FULLY_PRESENT } },
  });
  const child = buildVhdx(
    {
      virtualSize: 8 * MiB,
      blockSize: MiB,
      type: "differencing",
      parent: { dataWriteGuid: base.dataWriteGuid, paths: { relative_path: "base.vhdx" } },
      // In the file: blocks 0, 1, 2, 6, then block 6's sector bitmap, last.
      blocks: {
        0: { state: STATE.FULLY_PRESENT },
        1: { state: STATE.FULLY_PRESENT },
        2: { state: STATE.FULLY_PRESENT },
        6: { state: STATE.PARTIALLY_PRESENT, presentSectors: (s) => s % 3 === 0 },
      },
    },
    base,
  );
  const zeroed = async (fixture: Uint8Array, parent: Uint8Array | null, zeroBlocks: number[], expectFull: number) => {
    const source = new MemorySource(fixture.slice());
    const image = await openImage(source, {
      readOnly: false,
      parents: parent ? [await openImage(new MemorySource(parent))] : [],
    });
    for (const b of zeroBlocks) await image.write(b * MiB, new Uint8Array(MiB));
    await image.write(6 * MiB + 77, new Uint8Array(3000).fill(0x5a));
    expect(await countFullyPresent(image)).toBe(expectFull);
    await image.close();
    return source.bytes().slice();
  };
  return [
    {
      name: "dynamic",
      bytes: await zeroed(dynamic.bytes, null, [1, 2, 5], 7),
      parent: null,
      fullyPresentAfter: 4,
      zeroedBlocks: 3,
      movedBlocks: 2,
    },
    {
      name: "differencing",
      bytes: await zeroed(child.bytes, base.bytes, [0, 1], 3),
      parent: base.bytes,
      fullyPresentAfter: 1,
      zeroedBlocks: 2,
      movedBlocks: 2,
    },
  ];
}

async function openScenario(bytes: Uint8Array, scenario: CrashScenario, readOnly: boolean): Promise<VhdxImage> {
  const parents = scenario.parent ? [await openImage(new MemorySource(scenario.parent.slice()))] : [];
  return openImage(new MemorySource(bytes.slice()), { readOnly, parents });
}

/** Compacts until the power is cut; the result when compact finished (and the image closed), else null. */
async function compactUntilCut(source: FaultInjectingSource, scenario: CrashScenario): Promise<CompactResult | null> {
  try {
    const parents = scenario.parent ? [await openImage(new MemorySource(scenario.parent.slice()))] : [];
    const image = await openImage(source, { readOnly: false, parents });
    const result = await compactImage(image);
    await image.close();
    return result;
  } catch (error) {
    if (VhdxError.isInstance(error) && error.code === "IO_ERROR") return null;
    throw error;
  }
}

describe.each((await crashScenarios()).map((s) => [s.name, s] as const))(
  "power cuts during compact of a %s image",
  (_name, scenario) => {
    it("leaves an image that opens and reads as before, at every cut point, in every mode", async () => {
      const initial = scenario.bytes;
      const expected = await (await openScenario(initial, scenario, true)).read(0, 8 * MiB);

      const counter = new FaultInjectingSource(initial);
      const result = await compactUntilCut(counter, scenario);
      expect(result).toMatchObject({ zeroedBlocks: scenario.zeroedBlocks, movedBlocks: scenario.movedBlocks });
      const compacted = counter.durableBytes();
      expect(compacted.length).toBeLessThan(initial.length);
      const total = counter.operations;
      expect(total).toBeGreaterThan(10);
      const final = await openScenario(compacted, scenario, true);
      expect(await countFullyPresent(final)).toBe(scenario.fullyPresentAfter);
      expectSameBytes(await final.read(0, 8 * MiB), expected, "after an uninterrupted compact");

      const modes: PowerCutMode[] = ["drop", "keep-random", "tear"];
      for (let cut = 0; cut <= total; cut++) {
        await turnOfEventLoop();
        const source = new FaultInjectingSource(initial, { cutAfterOperations: cut, seed: cut + 1 });
        await compactUntilCut(source, scenario);
        for (const mode of modes) {
          const label = `${scenario.name}, cut after ${cut} of ${total} operations, ${mode}`;
          const survivor = await source.powerCut(mode);
          const image = await openScenario(survivor, scenario, true).catch((error: unknown) => {
            throw new Error(`${label}: does not open: ${String(error)}`);
          });
          expectSameBytes(await image.read(0, 8 * MiB), expected, label);
          if (mode === "tear") {
            const writable = await openScenario(survivor, scenario, false);
            expectSameBytes(await writable.read(0, 8 * MiB), expected, `${label}, replayed on disk`);
            await writable.close();
          }
        }
      }
    }, 120_000);
  },
);

/** Lets vitest's RPC answers in: a loop over memory sources alone never leaves the microtask queue. */
function turnOfEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
