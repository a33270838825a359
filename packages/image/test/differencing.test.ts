// Differencing chains built by the spec-driven generator: the parent locator
// is followed on disk, linkage and sector sizes are checked, and every byte
// reads as the generator's model of the chain says.
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Fixture, type FixtureSpec, STATE, buildVhdx } from "@vhdx-tools/fixtures";
import { afterEach, describe, expect, it } from "vitest";
import { MemorySource, VhdxError, openImage } from "../src/index.js";
import { openVhdx } from "../src/node/index.js";
import { oracle, pyvhdiRead } from "@vhdx-tools/oracles";

const MiB = 1 << 20;
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "vhdx-chain-"));
  dirs.push(dir);
  return dir;
}

const everyOther = (sector: number) => sector % 2 === 0;
const firstHalf = (sectorsPerBlock: number) => (sector: number) => sector < sectorsPerBlock / 2;

/** base (dynamic) <- mid <- top, every state a differencing disk can hold, in `dir`. */
function buildChain(dir: string, sectorSize: 512 | 4096 = 512) {
  const common = { virtualSize: 8 * MiB, blockSize: MiB, logicalSectorSize: sectorSize } as const;
  const perBlock = MiB / sectorSize;
  const base = buildVhdx({
    ...common,
    type: "dynamic",
    blocks: {
      0: { state: STATE.FULLY_PRESENT },
      1: { state: STATE.FULLY_PRESENT },
      2: { state: STATE.FULLY_PRESENT },
      3: { state: STATE.FULLY_PRESENT },
      4: { state: STATE.FULLY_PRESENT },
    },
  });
  const mid = buildVhdx(
    {
      ...common,
      type: "differencing",
      parent: {
        dataWriteGuid: base.dataWriteGuid,
        paths: { relative_path: ".\\base.vhdx", absolute_win32_path: "\\\\?\\D:\\vms\\base.vhdx" },
      },
      blocks: {
        0: { state: STATE.FULLY_PRESENT },
        1: { state: STATE.PARTIALLY_PRESENT, presentSectors: everyOther },
        3: { state: STATE.ZERO },
        4: { state: STATE.PARTIALLY_PRESENT, presentSectors: firstHalf(perBlock) },
        5: { state: STATE.UNMAPPED },
      },
    },
    base,
  );
  const top = buildVhdx(
    {
      ...common,
      type: "differencing",
      parent: { dataWriteGuid: mid.dataWriteGuid, paths: { relative_path: "mid.vhdx" } },
      blocks: {
        1: { state: STATE.PARTIALLY_PRESENT, presentSectors: (s) => s % 3 === 0 },
        2: { state: STATE.FULLY_PRESENT },
        7: { state: STATE.PARTIALLY_PRESENT, presentSectors: (s) => s > 5 },
      },
    },
    mid,
  );
  writeFileSync(join(dir, "base.vhdx"), base.bytes);
  writeFileSync(join(dir, "mid.vhdx"), mid.bytes);
  writeFileSync(join(dir, "top.vhdx"), top.bytes);
  return { base, mid, top };
}

function random(seed: number) {
  let state = seed >>> 0;
  return (limit: number) => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return Math.floor((state / 2 ** 32) * limit);
  };
}

async function expectMatchesModel(image: Awaited<ReturnType<typeof openImage>>, model: Fixture, seed = 1) {
  expect(Buffer.compare(await image.read(0, image.virtualSize), model.expectedAt(0, image.virtualSize))).toBe(0);
  const pick = random(seed);
  for (let i = 0; i < 80; i++) {
    const offset = pick(image.virtualSize);
    const length = 1 + pick(Math.min(image.virtualSize - offset, 3 * MiB));
    expect(
      Buffer.compare(await image.read(offset, length), model.expectedAt(offset, length)),
      `read ${length} at ${offset}`,
    ).toBe(0);
  }
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<VhdxError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(VhdxError.isInstance(error), String(error)).toBe(true);
  expect((error as VhdxError).code, (error as Error).message).toBe(code);
  return error as VhdxError;
}

const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

describe("a three-level chain found through relative_path", () => {
  it.each([512, 4096] as const)("reads every byte as the model says (%i-byte sectors)", async (sectorSize) => {
    const dir = tempDir();
    const { base, mid, top } = buildChain(dir, sectorSize);
    const image = await openVhdx(join(dir, "top.vhdx"));
    expect(image.diskType).toBe("differencing");
    expect(image.parent?.dataWriteGuid).toBe(mid.dataWriteGuid);
    expect(image.parent?.parent?.dataWriteGuid).toBe(base.dataWriteGuid);
    expect(image.parent?.parent?.parent).toBeNull();
    expect(image.parentLocator?.relative_path).toBe("mid.vhdx");
    await expectMatchesModel(image, top, sectorSize);
    await image.close();
  });

  it("reads ZERO blocks of a differencing disk as zeros, not from the parent", async () => {
    const dir = tempDir();
    buildChain(dir);
    const mid = await openVhdx(join(dir, "mid.vhdx"));
    const parentBlock = await mid.parent!.read(3 * MiB, MiB);
    expect(parentBlock.some((b) => b !== 0)).toBe(true);
    expect((await mid.read(3 * MiB, MiB)).every((b) => b === 0)).toBe(true);
    await mid.close();
  });

  it("never writes to any file of the chain", async () => {
    const dir = tempDir();
    buildChain(dir);
    const names = ["base.vhdx", "mid.vhdx", "top.vhdx"];
    const before = names.map((name) => sha256(join(dir, name)));
    const image = await openVhdx(join(dir, "top.vhdx"));
    await image.read(0, image.virtualSize);
    await image.close();
    expect(names.map((name) => sha256(join(dir, name)))).toEqual(before);
  });
});

describe.skipIf(!oracle("pyvhdi"))("agreement with libvhdi", () => {
  // libvhdi reads ZERO blocks of a differencing disk from the parent (the spec
  // says zeros), so these chains use only the states where it is right.
  it.each([512, 4096] as const)(
    "reads a two-level chain byte for byte as libvhdi does (%i-byte sectors)",
    async (sectorSize) => {
      const dir = tempDir();
      const common = { virtualSize: 6 * MiB + 3 * sectorSize, blockSize: MiB, logicalSectorSize: sectorSize } as const;
      const base = buildVhdx({
        ...common,
        type: "dynamic",
        blocks: {
          0: { state: STATE.FULLY_PRESENT },
          2: { state: STATE.FULLY_PRESENT },
          6: { state: STATE.FULLY_PRESENT },
        },
      });
      const child = buildVhdx(
        {
          ...common,
          type: "differencing",
          parent: { dataWriteGuid: base.dataWriteGuid, paths: { relative_path: "base.vhdx" } },
          blocks: {
            1: { state: STATE.FULLY_PRESENT },
            2: { state: STATE.PARTIALLY_PRESENT, presentSectors: (s) => s % 7 < 3 },
            6: { state: STATE.PARTIALLY_PRESENT, presentSectors: (s) => s === 1 },
          },
        },
        base,
      );
      writeFileSync(join(dir, "base.vhdx"), base.bytes);
      writeFileSync(join(dir, "child.vhdx"), child.bytes);
      const image = await openVhdx(join(dir, "child.vhdx"));
      const libvhdi = pyvhdiRead(join(dir, "child.vhdx"), [[0, image.virtualSize]], [join(dir, "base.vhdx")]);
      expect(Buffer.compare(await image.read(0, image.virtualSize), libvhdi)).toBe(0);
      expect(Buffer.compare(libvhdi, child.expected)).toBe(0);
      await image.close();
    },
  );
});

describe("partially present blocks across a chunk boundary", () => {
  it("uses the right sector bitmap on each side of the 4 GiB chunk edge", async () => {
    const virtualSize = 4 * 1024 * MiB + 8 * MiB;
    const base = buildVhdx({
      virtualSize,
      blockSize: MiB,
      type: "dynamic",
      blocks: {
        4095: { state: STATE.FULLY_PRESENT },
        4096: { state: STATE.FULLY_PRESENT },
        4097: { state: STATE.FULLY_PRESENT },
      },
    });
    const child = buildVhdx(
      {
        virtualSize,
        blockSize: MiB,
        type: "differencing",
        parent: { dataWriteGuid: base.dataWriteGuid, paths: { relative_path: "base.vhdx" } },
        blocks: {
          4095: { state: STATE.PARTIALLY_PRESENT, presentSectors: (s) => s % 4 === 1 },
          4096: { state: STATE.PARTIALLY_PRESENT, presentSectors: (s) => s % 5 === 0 },
          4097: { state: STATE.FULLY_PRESENT },
        },
      },
      base,
    );
    const image = await openImage(new MemorySource(child.bytes), { parents: [new MemorySource(base.bytes)] });
    expect(image.geometry.sectorBitmapBlockCount).toBe(2);
    const start = 4094 * MiB;
    expect(Buffer.compare(await image.read(start, 5 * MiB), child.expectedAt(start, 5 * MiB))).toBe(0);
    const edge = 4096 * MiB - 1536;
    expect(Buffer.compare(await image.read(edge, 4096), child.expectedAt(edge, 4096))).toBe(0);
  }, 60_000);
});

describe("finding the parent", () => {
  function pair(childSpec: Partial<FixtureSpec> = {}, parentSpec: Partial<FixtureSpec> = {}) {
    const parent = buildVhdx({
      virtualSize: 4 * MiB,
      blockSize: MiB,
      type: "dynamic",
      blocks: { 1: { state: STATE.FULLY_PRESENT } },
      ...parentSpec,
    });
    const child = buildVhdx(
      {
        virtualSize: 4 * MiB,
        blockSize: MiB,
        type: "differencing",
        parent: { dataWriteGuid: parent.dataWriteGuid, paths: { relative_path: "parent.vhdx" } },
        blocks: { 2: { state: STATE.FULLY_PRESENT } },
        ...childSpec,
      },
      parent,
    );
    return { parent, child };
  }

  it("takes a parent from the explicit candidates, skipping ones whose DataWriteGuid does not match", async () => {
    const { parent, child } = pair();
    const stranger = buildVhdx({ virtualSize: 4 * MiB, blockSize: MiB, type: "dynamic" });
    const image = await openImage(new MemorySource(child.bytes), {
      parents: [new MemorySource(stranger.bytes), new MemorySource(parent.bytes)],
    });
    expect(image.parent?.dataWriteGuid).toBe(parent.dataWriteGuid);
    expect(Buffer.compare(await image.read(0, 4 * MiB), child.expected)).toBe(0);
  });

  it("accepts an already opened image as a parent and leaves it open on close", async () => {
    const { parent, child } = pair();
    const parentImage = await openImage(new MemorySource(parent.bytes));
    const image = await openImage(new MemorySource(child.bytes), { parents: [parentImage] });
    expect(image.parent).toBe(parentImage);
    await image.close();
    expect((await parentImage.read(MiB, 16)).length).toBe(16);
  });

  it("accepts parent_linkage2 when parent_linkage does not match", async () => {
    const parent = buildVhdx({ virtualSize: 4 * MiB, blockSize: MiB, type: "dynamic" });
    const child = buildVhdx({
      virtualSize: 4 * MiB,
      blockSize: MiB,
      type: "differencing",
      parent: {
        dataWriteGuid: "01234567-89ab-cdef-0123-456789abcdef",
        extra: { parent_linkage2: `{${parent.dataWriteGuid}}`, relative_path: "x.vhdx" },
      },
    });
    const image = await openImage(new MemorySource(child.bytes), { parents: [new MemorySource(parent.bytes)] });
    expect(image.parent?.dataWriteGuid).toBe(parent.dataWriteGuid);
  });

  it("refuses a parent whose DataWriteGuid is not the linkage (PARENT_LINKAGE_MISMATCH)", async () => {
    const { child } = pair();
    const dir = tempDir();
    writeFileSync(join(dir, "child.vhdx"), child.bytes);
    writeFileSync(join(dir, "parent.vhdx"), buildVhdx({ virtualSize: 4 * MiB, blockSize: MiB, type: "dynamic" }).bytes);
    const error = await expectCode(openVhdx(join(dir, "child.vhdx")), "PARENT_LINKAGE_MISMATCH");
    expect(error.message).toMatch(/parent\.vhdx/);
  });

  it("reports a missing parent with the paths it tried (PARENT_NOT_FOUND)", async () => {
    const { child } = pair();
    const dir = tempDir();
    writeFileSync(join(dir, "child.vhdx"), child.bytes);
    const error = await expectCode(openVhdx(join(dir, "child.vhdx")), "PARENT_NOT_FOUND");
    expect(error.message).toMatch(/relative_path "parent\.vhdx"/);
    await expectCode(openImage(new MemorySource(child.bytes)), "PARENT_NOT_FOUND");
  });

  it("refuses a parent with another logical sector size", async () => {
    const { parent, child } = pair({ logicalSectorSize: 512 }, { logicalSectorSize: 4096 });
    await expectCode(
      openImage(new MemorySource(child.bytes), { parents: [new MemorySource(parent.bytes)] }),
      "PARENT_LINKAGE_MISMATCH",
    );
  });

  it("does not follow a locator outside the child's folder unless allowed", async () => {
    const { parent, child: _ } = pair();
    const dir = tempDir();
    mkdirSync(join(dir, "children"));
    const child = buildVhdx(
      {
        virtualSize: 4 * MiB,
        blockSize: MiB,
        type: "differencing",
        parent: { dataWriteGuid: parent.dataWriteGuid, paths: { relative_path: "..\\parent.vhdx" } },
      },
      parent,
    );
    writeFileSync(join(dir, "parent.vhdx"), parent.bytes);
    writeFileSync(join(dir, "children", "child.vhdx"), child.bytes);
    const error = await expectCode(openVhdx(join(dir, "children", "child.vhdx")), "PARENT_NOT_FOUND");
    expect(error.message).toMatch(/outside the child's folder/);
    const image = await openVhdx(join(dir, "children", "child.vhdx"), { allowParentOutsideTree: true });
    expect(image.parent?.dataWriteGuid).toBe(parent.dataWriteGuid);
    await image.close();
  });

  it("finds a parent named by an absolute Windows path when it sits beside the child", async () => {
    const parent = buildVhdx({ virtualSize: 4 * MiB, blockSize: MiB, type: "dynamic" });
    const child = buildVhdx({
      virtualSize: 4 * MiB,
      blockSize: MiB,
      type: "differencing",
      parent: {
        dataWriteGuid: parent.dataWriteGuid,
        paths: { absolute_win32_path: "\\\\?\\C:\\Hyper-V\\Disks\\base.vhdx" },
      },
    });
    const dir = tempDir();
    writeFileSync(join(dir, "base.vhdx"), parent.bytes);
    writeFileSync(join(dir, "child.vhdx"), child.bytes);
    const image = await openVhdx(join(dir, "child.vhdx"));
    expect(image.parent?.dataWriteGuid).toBe(parent.dataWriteGuid);
    await image.close();
  });

  it("refuses a chain that loops back on itself (PARENT_LOOP), and does not hang", async () => {
    const guidA = "aaaaaaaa-0000-4000-8000-000000000001";
    const guidB = "bbbbbbbb-0000-4000-8000-000000000002";
    const spec = (own: string, other: string, file: string) =>
      buildVhdx({
        virtualSize: 4 * MiB,
        blockSize: MiB,
        type: "differencing",
        dataWriteGuid: own,
        parent: { dataWriteGuid: other, paths: { relative_path: file } },
      });
    const dir = tempDir();
    writeFileSync(join(dir, "a.vhdx"), spec(guidA, guidB, "b.vhdx").bytes);
    writeFileSync(join(dir, "b.vhdx"), spec(guidB, guidA, "a.vhdx").bytes);
    await expectCode(openVhdx(join(dir, "a.vhdx")), "PARENT_LOOP");
    const self = spec(guidA, guidA, "self.vhdx");
    writeFileSync(join(dir, "self.vhdx"), self.bytes);
    await expectCode(openVhdx(join(dir, "self.vhdx")), "PARENT_LOOP");
  });

  it("reads zeros where a child is larger than its parent", async () => {
    const parent = buildVhdx({
      virtualSize: 2 * MiB,
      blockSize: MiB,
      type: "dynamic",
      blocks: { 1: { state: STATE.FULLY_PRESENT } },
    });
    const child = buildVhdx(
      {
        virtualSize: 4 * MiB,
        blockSize: MiB,
        type: "differencing",
        parent: { dataWriteGuid: parent.dataWriteGuid, paths: { relative_path: "p.vhdx" } },
      },
      parent,
    );
    const image = await openImage(new MemorySource(child.bytes), { parents: [new MemorySource(parent.bytes)] });
    expect(Buffer.compare(await image.read(0, 4 * MiB), child.expected)).toBe(0);
    expect((await image.read(2 * MiB, 2 * MiB)).every((b) => b === 0)).toBe(true);
  });
});
