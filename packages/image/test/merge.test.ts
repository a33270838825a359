// Merging a differencing disk into its parent (mergeIntoParent, mergeVhdx):
// after the merge the parent reads, byte for byte, what the child read
// before; QEMU checks the merged base and reads it the same; the child is
// removed, or kept relinked (--keep) and reading as before; the disks below
// the parent are not touched.
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { VhdxError } from "../src/index.js";
import { mergeIntoParent } from "../src/maintain/merge.js";
import { createVhdx, openVhdx } from "../src/node/index.js";
import { mergeVhdx } from "../src/node/merge-vhdx.js";
import { oracle, qemuCheck, qemuConvertToRaw, tempDir } from "@vhdx-tools/oracles";

const MiB = 1 << 20;
const SIZE = 12 * MiB;
const hasQemu = oracle("qemu-img");

const dir = tempDir("vhdx-merge-");
afterAll(() => dir.remove());
let serial = 0;

function pattern(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let state = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    bytes[i] = state >>> 24;
  }
  return bytes;
}

async function readAll(path: string): Promise<Uint8Array> {
  const image = await openVhdx(path);
  try {
    return await image.read(0, image.virtualSize);
  } finally {
    await image.close();
  }
}

const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

/** The first offset where two views differ, or -1 (a readable failure instead of a 12 MiB diff). */
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/** A dynamic base with data in blocks 0-5, in a fresh folder. */
async function makeBase(sector: 512 | 4096 = 512) {
  const folder = dir.file(`case-${++serial}`);
  const { mkdirSync } = await import("node:fs");
  mkdirSync(folder);
  const base = `${folder}/base.vhdx`;
  const image = await createVhdx(base, { size: SIZE, blockSize: MiB, logicalSectorSize: sector });
  await image.write(0, pattern(6 * MiB, 1));
  await image.close();
  return { folder, base };
}

/**
 * A child of `parent` with every kind of change: sector writes (partially
 * present blocks), a sub-sector write, a whole-block write, a write where the
 * parent has nothing, whole-block and part-block zeros over parent data.
 */
async function makeChild(path: string, parent: string, sector: number, seed = 2, blockSize?: number) {
  const image = await createVhdx(path, {
    type: "differencing",
    parent,
    ...(blockSize === undefined ? {} : { blockSize }),
  });
  if (blockSize !== undefined) expect(image.blockSize).toBe(blockSize);
  await image.write(3 * sector, pattern(sector, seed)); // block 0: one sector
  await image.write(MiB - 2 * sector, pattern(4 * sector, seed + 1)); // across blocks 0 and 1
  await image.write(2 * MiB, pattern(MiB, seed + 2)); // block 2 whole
  await image.write(4 * MiB + 100, pattern(37, seed + 3)); // block 4: inside one sector
  await image.writeZeroes(5 * MiB, MiB); // block 5: whole block of zeros over base data
  await image.writeZeroes(3 * MiB + 8 * sector, 16 * sector); // block 3: zeros inside the block
  await image.write(9 * MiB + 5 * sector, pattern(3 * sector, seed + 4)); // block 9: the base has nothing
  for (let s = 0; s < 64; s += 2) await image.write(7 * MiB + s * sector, pattern(sector, seed + 10 + s)); // every other sector
  await image.close();
}

describe("mergeVhdx", () => {
  it("writes the child's view into a dynamic base and removes the child", async () => {
    const { folder, base } = await makeBase();
    const child = `${folder}/child.vhdx`;
    await makeChild(child, base, 512);
    const before = await readAll(child);
    const baseBefore = await readAll(base);
    expect(firstDifference(before, baseBefore)).not.toBe(-1);

    const result = await mergeVhdx(child);
    expect(result.childRemoved).toBe(true);
    expect(result.parent).toBe(base);
    expect(existsSync(child)).toBe(false);
    expect(result.bytesCopied).toBeGreaterThanOrEqual(MiB + 32 * 512);
    expect(result.bytesZeroed).toBeGreaterThanOrEqual(MiB);

    const after = await readAll(base);
    expect(firstDifference(after, before)).toBe(-1);
    const reopened = await openVhdx(base);
    expect(reopened.dataWriteGuid).toBe(result.parentDataWriteGuid);
    await reopened.close();
    if (hasQemu) {
      qemuCheck(base);
      qemuConvertToRaw(base, `${folder}/base.raw`);
      expect(firstDifference(new Uint8Array(readFileSync(`${folder}/base.raw`)), before)).toBe(-1);
    }
  });

  it("with keep, relinks the child, which opens and reads as before", async () => {
    const { folder, base } = await makeBase();
    const child = `${folder}/child.vhdx`;
    await makeChild(child, base, 512, 7);
    const before = await readAll(child);

    const result = await mergeVhdx(child, { keep: true });
    expect(result.childRemoved).toBe(false);
    expect(existsSync(child)).toBe(true);
    const kept = await openVhdx(child);
    try {
      expect(kept.parentLocator?.parent_linkage).toBe(`{${result.parentDataWriteGuid}}`);
      expect(kept.parentLocator?.parent_linkage2).toBeUndefined();
      expect(kept.parentLocator?.relative_path).toBe("base.vhdx");
      expect(firstDifference(await kept.read(0, SIZE), before)).toBe(-1);
    } finally {
      await kept.close();
    }
    expect(firstDifference(await readAll(base), before)).toBe(-1);
    if (hasQemu) qemuCheck(base);
  });

  it("merges the top of a three-level chain into the middle, leaving the base untouched", async () => {
    const { folder, base } = await makeBase();
    const mid = `${folder}/mid.vhdx`;
    const top = `${folder}/top.vhdx`;
    await makeChild(mid, base, 512, 20);
    const topImage = await createVhdx(top, { type: "differencing", parent: mid });
    await topImage.write(0, pattern(MiB + 512, 30)); // block 0 whole, block 1 one sector
    await topImage.write(7 * MiB + 512, pattern(512, 31)); // over mid's partial block
    await topImage.writeZeroes(2 * MiB, MiB); // mid's whole block becomes zeros
    await topImage.writeZeroes(4 * MiB, 4096); // part of a block the mid takes from the base
    await topImage.close();
    const before = await readAll(top);
    const baseHash = sha256(base);

    const result = await mergeVhdx(top);
    expect(result.parent).toBe(mid);
    expect(existsSync(top)).toBe(false);
    expect(firstDifference(await readAll(mid), before)).toBe(-1);
    expect(sha256(base)).toBe(baseHash);
    const middle = await openVhdx(mid);
    expect(middle.diskType).toBe("differencing");
    await middle.close();
  });

  it("merges a chain of 4096-byte sectors", async () => {
    const { folder, base } = await makeBase(4096);
    const child = `${folder}/child.vhdx`;
    await makeChild(child, base, 4096, 40);
    const before = await readAll(child);
    await mergeVhdx(child);
    expect(existsSync(child)).toBe(false);
    const merged = await openVhdx(base);
    expect(merged.logicalSectorSize).toBe(4096);
    expect(firstDifference(await merged.read(0, SIZE), before)).toBe(-1);
    await merged.close();
    // No QEMU here: qemu-img opens no VHDX with 4096-byte logical sectors ("Operation not supported").
  });

  it("merges into a fixed parent with another block size", async () => {
    const folder = dir.file(`case-${++serial}`);
    const { mkdirSync } = await import("node:fs");
    mkdirSync(folder);
    const base = `${folder}/base.vhdx`;
    const fixed = await createVhdx(base, { size: SIZE, type: "fixed", blockSize: 4 * MiB });
    await fixed.write(MiB, pattern(8 * MiB, 50));
    await fixed.close();
    const child = `${folder}/child.vhdx`;
    await makeChild(child, base, 512, 52, MiB);
    const before = await readAll(child);
    const sizeBefore = readFileSync(base).length;
    await mergeVhdx(child);
    const merged = await openVhdx(base);
    expect(merged.diskType).toBe("fixed");
    expect(firstDifference(await merged.read(0, SIZE), before)).toBe(-1);
    await merged.close();
    expect(readFileSync(base).length).toBe(sizeBefore);
    if (hasQemu) qemuCheck(base);
  });

  it("leaves the parent's DataWriteGuid alone when the child holds nothing", async () => {
    const { folder, base } = await makeBase();
    const child = `${folder}/child.vhdx`;
    await (await createVhdx(child, { type: "differencing", parent: base })).close();
    const baseHash = sha256(base);
    const result = await mergeVhdx(child, { keep: true });
    expect(result).toMatchObject({ bytesCopied: 0, bytesZeroed: 0, childRemoved: false });
    expect(sha256(base)).toBe(baseHash);
    await (await openVhdx(child)).close();
  });

  it("refuses a disk that is not differencing, changing nothing", async () => {
    const { base } = await makeBase();
    const hash = sha256(base);
    const error = await mergeVhdx(base).catch((e: unknown) => e);
    expect(VhdxError.isInstance(error) && error.code).toBe("INVALID_ARGUMENT");
    expect(existsSync(base)).toBe(true);
    expect(sha256(base)).toBe(hash);
  });
});

describe("mergeIntoParent", () => {
  it("refuses a read-only parent and a disk that is not the parent", async () => {
    const { folder, base } = await makeBase();
    const child = `${folder}/child.vhdx`;
    await makeChild(child, base, 512);
    const other = `${folder}/other.vhdx`;
    await (await createVhdx(other, { size: SIZE, blockSize: MiB })).close();
    const childImage = await openVhdx(child);
    const readOnly = await openVhdx(base);
    const stranger = await openVhdx(other, { readOnly: false });
    try {
      await expect(mergeIntoParent(childImage, readOnly)).rejects.toMatchObject({ code: "READ_ONLY" });
      await expect(mergeIntoParent(childImage, stranger)).rejects.toMatchObject({ code: "PARENT_LINKAGE_MISMATCH" });
      await expect(mergeIntoParent(readOnly, stranger)).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    } finally {
      await Promise.all([childImage.close(), readOnly.close(), stranger.close()]);
    }
  });

  it("reports progress block by block and copies only what the child holds", async () => {
    const { folder, base } = await makeBase();
    const child = `${folder}/child.vhdx`;
    const image = await createVhdx(child, { type: "differencing", parent: base });
    await image.write(MiB, pattern(512, 9));
    await image.close();
    // The parent first: the child's own read-only open of it would hold it shared, and lock out the writer.
    const parent = await openVhdx(base, { readOnly: false });
    const childImage = await openVhdx(child, { parents: [parent] });
    const seen: number[] = [];
    const result = await mergeIntoParent(childImage, parent, { onProgress: (p) => seen.push(p.done) });
    await parent.close();
    await childImage.close();
    expect(result).toEqual({ bytesCopied: 512, bytesZeroed: 0 });
    expect(seen).toHaveLength(SIZE / MiB);
    expect(seen.at(-1)).toBe(SIZE);
  });
});
