// set-parent at the library level: a child whose parent moved is pointed at
// the new place and reads as before, for us, libvhdi and 7-Zip; a parent
// that is not the one the child was made on is refused unless the mismatch
// is ignored, which relinks the child; what is never a parent is refused.
import { renameSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { oracle, pyvhdiRead, sevenZipRead, sevenZipTest, vhdiinfoFields } from "@vhdx-tools/oracles";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemorySource, createImage, openImage, setParent } from "../src/index.js";
import { createVhdx, openVhdx, setVhdxParent } from "../src/node/index.js";

const MiB = 1 << 20;
const SIZE = 8 * MiB;
const hasVhdiinfo = oracle("vhdiinfo");
const hasPyvhdi = oracle("pyvhdi");
const has7zz = oracle("7zz");
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "vhdx-set-parent-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A base with 0x11 in its first 3 MiB and a child with 0x22 over [1 MiB, 1 MiB + 8 KiB); returns what the child reads as. */
async function chain(name: string): Promise<{ base: string; child: string; expected: Uint8Array }> {
  const base = join(dir, `${name}-base.vhdx`);
  const child = join(dir, `${name}-child.vhdx`);
  const parent = await createVhdx(base, { size: SIZE, blockSize: MiB });
  await parent.write(0, new Uint8Array(3 * MiB).fill(0x11));
  await parent.close();
  const differencing = await createVhdx(child, { type: "differencing", parent: base });
  await differencing.write(MiB, new Uint8Array(8192).fill(0x22));
  await differencing.close();
  const expected = new Uint8Array(SIZE);
  expected.fill(0x11, 0, 3 * MiB).fill(0x22, MiB, MiB + 8192);
  return { base, child, expected };
}

async function contents(path: string): Promise<Uint8Array> {
  const image = await openVhdx(path);
  try {
    return await image.read(0, image.virtualSize);
  } finally {
    await image.close();
  }
}

describe("a parent that moved", () => {
  it("is found again after set-parent, and the child reads as before", async () => {
    const { base, child, expected } = await chain("moved");
    const before = await openVhdx(child);
    const { dataWriteGuid, parentLocator } = before;
    await before.close();
    mkdirSync(join(dir, "elsewhere"));
    const moved = join(dir, "elsewhere", "renamed-base.vhdx");
    renameSync(base, moved);
    await expect(openVhdx(child)).rejects.toMatchObject({ code: "PARENT_NOT_FOUND" });

    const result = await setVhdxParent(child, moved);
    expect(result.linkageChanged).toBe(false);
    expect(result.oldLocator).toEqual(parentLocator);
    expect(result.newLocator).toEqual({
      parent_linkage: parentLocator!.parent_linkage,
      relative_path: "elsewhere\\renamed-base.vhdx",
      absolute_win32_path: moved,
    });
    const after = await openVhdx(child);
    expect(after.parentLocator).toEqual(result.newLocator);
    expect(after.dataWriteGuid).toBe(dataWriteGuid); // the child's own children stay linked
    await after.close();
    expect(Buffer.compare(await contents(child), expected)).toBe(0);
  });

  it.skipIf(!hasVhdiinfo || !hasPyvhdi)("reads the same through libvhdi", async () => {
    const { base, child, expected } = await chain("libvhdi");
    const moved = join(dir, "libvhdi-moved.vhdx");
    renameSync(base, moved);
    await setVhdxParent(child, moved);
    const info = vhdiinfoFields(child);
    expect(info.diskType).toBe("differencing");
    expect(info.parentIdentifier).toBe(vhdiinfoFields(moved).identifier);
    expect(Buffer.compare(pyvhdiRead(child, [[0, SIZE]], [moved]), expected)).toBe(0);
  });

  it.skipIf(!has7zz)(
    "reads the same through 7-Zip, which follows the new relative_path and checks the linkage",
    async () => {
      const { base, child, expected } = await chain("sevenzip");
      const moved = join(dir, "sevenzip-moved.vhdx");
      renameSync(base, moved);
      await setVhdxParent(child, moved);
      const test = sevenZipTest(child);
      expect(test.problems).toEqual([]);
      expect(test.levels).toBe(2);
      expect(Buffer.compare(sevenZipRead(child, SIZE), expected)).toBe(0);
    },
  );
});

describe("a parent that is not the one the child was made on", () => {
  it("is refused with PARENT_LINKAGE_MISMATCH, and taken with ignoreIdMismatch, which relinks the child", async () => {
    const { child } = await chain("mismatch");
    const other = join(dir, "mismatch-other.vhdx");
    const image = await createVhdx(other, { size: SIZE, blockSize: MiB });
    await image.write(2 * MiB, new Uint8Array(MiB).fill(0x33));
    const otherGuid = image.dataWriteGuid;
    await image.close();

    await expect(setVhdxParent(child, other)).rejects.toMatchObject({ code: "PARENT_LINKAGE_MISMATCH" });
    const unchanged = await openVhdx(child);
    expect(unchanged.parentLocator?.relative_path).toBe("mismatch-base.vhdx");
    await unchanged.close();

    const result = await setVhdxParent(child, other, { ignoreIdMismatch: true });
    expect(result.linkageChanged).toBe(true);
    expect(result.newLocator.parent_linkage).toBe(`{${otherGuid}}`);
    const expected = new Uint8Array(SIZE).fill(0x33, 2 * MiB, 3 * MiB).fill(0x22, MiB, MiB + 8192);
    expect(Buffer.compare(await contents(child), expected)).toBe(0);
  });

  it("is refused when its size or sector size differs, even with ignoreIdMismatch", async () => {
    const { child } = await chain("sizes");
    const small = join(dir, "sizes-small.vhdx");
    await (await createVhdx(small, { size: SIZE / 2 })).close();
    const sectors4k = join(dir, "sizes-4k.vhdx");
    await (await createVhdx(sectors4k, { size: SIZE, logicalSectorSize: 4096 })).close();
    for (const parent of [small, sectors4k]) {
      await expect(setVhdxParent(child, parent, { ignoreIdMismatch: true })).rejects.toMatchObject({
        code: "PARENT_LINKAGE_MISMATCH",
      });
    }
  });
});

describe("what is never a parent", () => {
  it("refuses a child that is no differencing disk, and a child as its own parent", async () => {
    const { base, child } = await chain("never");
    const lonely = join(dir, "never-lonely.vhdx");
    await (await createVhdx(lonely, { size: SIZE })).close();
    await expect(setVhdxParent(lonely, base)).rejects.toMatchObject({ code: "UNSUPPORTED" });
    // In files the child's lock stops it; in memory the loop check does.
    await expect(setVhdxParent(child, child)).rejects.toMatchObject({ code: "LOCKED" });
    const parentSource = new MemorySource();
    const parent = await createImage(parentSource, { size: SIZE });
    const childSource = new MemorySource();
    const made = await createImage(childSource, {
      type: "differencing",
      parent,
      parentLocator: { relative_path: "p.vhdx" },
    });
    await made.close();
    const opened = await openImage(childSource, { readOnly: false, parents: [parent] });
    const itself = await openImage(childSource, { parents: [parent] });
    await expect(setParent(opened, itself, { paths: { relative_path: "c.vhdx" } })).rejects.toMatchObject({
      code: "PARENT_LOOP",
    });
    await itself.close();
    await parent.close();
  });

  it("refuses paths with no locator path key, or keys that are not path keys", async () => {
    const parentSource = new MemorySource();
    const parent = await createImage(parentSource, { size: SIZE });
    const childSource = new MemorySource();
    await (
      await createImage(childSource, { type: "differencing", parent, parentLocator: { relative_path: "p.vhdx" } })
    ).close();
    const refused: Record<string, string>[] = [
      {},
      { relative_path: "" },
      { relative_path: "p.vhdx", parent_linkage: "{x}" },
    ];
    for (const paths of refused) {
      const child = await openImage(childSource, { readOnly: false, parents: [parent] });
      await expect(setParent(child, parent, { paths })).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    }
    await parent.close();
  });
});
