// User metadata items at the library level: random sets and removes against a
// plain map (the model), each result reopened and checked by our checker and,
// for files, by qemu-img; the limits of the spec; the linkage of a parent's
// children kept; a power cut at every write and flush of an edit leaves the
// items as they were before it or after it.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { oracle } from "@vhdx-tools/oracles";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  MemorySource,
  type VhdxImage,
  checkImage,
  createImage,
  getUserMetadata,
  listUserMetadata,
  openImage,
  removeUserMetadata,
  setUserMetadata,
} from "../src/index.js";
import { openVhdx, removeVhdxUserMetadata, setVhdxUserMetadata } from "../src/node/index.js";
import { FaultInjectingSource, type PowerCutMode } from "../src/testing/index.js";

const MiB = 1 << 20;
const hasQemu = oracle("qemu-img");
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "vhdx-user-metadata-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A deterministic generator (mulberry32). */
function seeded(seed: number): (n: number) => number {
  let state = seed >>> 0;
  return (n) => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 2 ** 32) * n);
  };
}

const guidOf = (n: number) => `${n.toString(16).padStart(8, "0")}-1111-4222-8333-444455556666`;
const bytesOf = (length: number, value: number) => new Uint8Array(length).map((_, i) => (value + i * 7) & 0xff);

async function newImage(): Promise<{ source: MemorySource; image: VhdxImage }> {
  const source = new MemorySource();
  const image = await createImage(source, { size: 64 * MiB, blockSize: MiB });
  await image.write(MiB, new Uint8Array(4096).fill(0x5a));
  await image.flush();
  return { source, image };
}

/** The image's user items as the model holds them: GUID to bytes. */
async function itemsOf(image: VhdxImage): Promise<Map<string, Uint8Array>> {
  const items = new Map<string, Uint8Array>();
  for (const item of await listUserMetadata(image))
    items.set(item.itemId, (await getUserMetadata(image, item.itemId))!);
  return items;
}

function expectItems(actual: Map<string, Uint8Array>, model: Map<string, Uint8Array>, label: string): void {
  expect([...actual.keys()].sort(), label).toEqual([...model.keys()].sort());
  for (const [id, bytes] of model) expect(Buffer.compare(actual.get(id)!, bytes), `${label}: ${id}`).toBe(0);
}

describe("user metadata against a model", () => {
  it("random sets, replaces and removes read back as the model says, before and after reopening", async () => {
    const random = seeded(19);
    const { source, image } = await newImage();
    const dataWriteGuid = image.dataWriteGuid;
    const model = new Map<string, Uint8Array>();
    for (let step = 0; step < 60; step++) {
      const id = guidOf(random(12));
      if (random(4) === 0) {
        expect(await removeUserMetadata(image, id)).toBe(model.delete(id));
      } else {
        const sizes = [0, 1, 100, 4096, 5000, 70_000];
        const bytes = bytesOf(sizes[random(sizes.length)]!, step);
        await setUserMetadata(image, id, bytes);
        model.set(id, bytes);
      }
      expectItems(await itemsOf(image), model, `step ${step}`);
    }
    // Edits of metadata leave the disk's data and its DataWriteGuid alone.
    expect(image.dataWriteGuid).toBe(dataWriteGuid);
    expect((await image.read(MiB, 4096)).every((b) => b === 0x5a)).toBe(true);
    await image.close();
    const reopened = await openImage(source);
    expectItems(await itemsOf(reopened), model, "reopened");
    expect(reopened.dataWriteGuid).toBe(dataWriteGuid);
    await reopened.close();
    const report = await checkImage(source);
    expect(report.errors).toEqual([]);
    expect(report.warnings).toEqual([]);
  });

  it("keeps IsVirtualDisk as asked, or as the item had it, and never sets IsRequired", async () => {
    const { image } = await newImage();
    await setUserMetadata(image, guidOf(1), bytesOf(10, 1), { isVirtualDisk: true });
    await setUserMetadata(image, guidOf(1), bytesOf(20, 2));
    await setUserMetadata(image, guidOf(2), bytesOf(5, 3));
    expect(await listUserMetadata(image)).toEqual([
      { itemId: guidOf(1), length: 20, isVirtualDisk: true, isRequired: false },
      { itemId: guidOf(2), length: 5, isVirtualDisk: false, isRequired: false },
    ]);
    await image.close();
  });

  it("takes GUIDs in any case and with braces, and answers null and false for an item that is not there", async () => {
    const { image } = await newImage();
    await setUserMetadata(image, `{${guidOf(0xabc).toUpperCase()}}`, bytesOf(3, 9));
    expect(await getUserMetadata(image, guidOf(0xabc))).toEqual(bytesOf(3, 9));
    expect(await getUserMetadata(image, guidOf(7))).toBeNull();
    expect(await removeUserMetadata(image, guidOf(7))).toBe(false);
    await image.close();
  });
});

describe("the spec's limits", () => {
  it("refuses a system item's GUID, the nil GUID and text that is no GUID", async () => {
    const { image } = await newImage();
    for (const id of ["caa16737-fa36-4d43-b3b6-33f0aa44e76b", "00000000-0000-0000-0000-000000000000", "disk-label"]) {
      await expect(setUserMetadata(image, id, bytesOf(1, 1))).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    }
    await image.close();
  });

  it("refuses an item over 1 MiB, and one the region has no room for", async () => {
    const { image } = await newImage();
    await expect(setUserMetadata(image, guidOf(1), new Uint8Array(MiB + 1))).rejects.toMatchObject({
      code: "OUT_OF_RANGE",
    });
    // The region is 1 MiB and the table takes 64 KiB of it.
    await expect(setUserMetadata(image, guidOf(1), new Uint8Array(MiB))).rejects.toMatchObject({
      code: "OUT_OF_RANGE",
      message: expect.stringMatching(/no free run/),
    });
    await setUserMetadata(image, guidOf(2), new Uint8Array(900_000).fill(1));
    await expect(setUserMetadata(image, guidOf(3), new Uint8Array(100_000))).rejects.toMatchObject({
      code: "OUT_OF_RANGE",
    });
    expect((await listUserMetadata(image)).map((i) => i.itemId)).toEqual([guidOf(2)]);
    await image.close();
  });

  it("holds 1024 user items and refuses the 1025th", async () => {
    const { source, image } = await newImage();
    for (let i = 0; i < 1024; i++) await setUserMetadata(image, guidOf(i), bytesOf(8, i));
    await expect(setUserMetadata(image, guidOf(5000), bytesOf(8, 1))).rejects.toMatchObject({
      code: "OUT_OF_RANGE",
      message: expect.stringMatching(/at most 1024/),
    });
    await setUserMetadata(image, guidOf(17), bytesOf(9, 1)); // replacing one is no new item
    await image.close();
    const reopened = await openImage(source);
    const items = await listUserMetadata(reopened);
    expect(items).toHaveLength(1024);
    expect(await getUserMetadata(reopened, guidOf(1023))).toEqual(bytesOf(8, 1023));
    await reopened.close();
  }, 60_000);

  it("refuses to edit a read-only image", async () => {
    const { source, image } = await newImage();
    await image.close();
    const readOnly = await openImage(source);
    await expect(setUserMetadata(readOnly, guidOf(1), bytesOf(1, 1))).rejects.toMatchObject({ code: "READ_ONLY" });
    await readOnly.close();
  });
});

describe("a parent's children", () => {
  it("stay linked when the parent's user metadata changes", async () => {
    const base = join(dir, "linked-base.vhdx");
    const child = join(dir, "linked-child.vhdx");
    const { createVhdx } = await import("../src/node/index.js");
    await (await createVhdx(base, { size: 8 * MiB, blockSize: MiB })).close();
    await (await createVhdx(child, { type: "differencing", parent: base })).close();
    await setVhdxUserMetadata(base, guidOf(1), bytesOf(100, 1));
    expect(await removeVhdxUserMetadata(base, guidOf(1))).toBe(true);
    const reopened = await openVhdx(child);
    expect(reopened.parent).not.toBeNull();
    await reopened.close();
  });
});

describe.skipIf(!hasQemu)("files QEMU checks", () => {
  it("qemu-img check and info accept an image with user items set, replaced and removed", async () => {
    const file = join(dir, "qemu.vhdx");
    execFileSync("qemu-img", ["create", "-q", "-f", "vhdx", "-o", "block_size=1M", file, "32M"]);
    execFileSync("qemu-io", ["-c", "write -P 0x33 0 2M", file], { stdio: "ignore" });
    await setVhdxUserMetadata(file, guidOf(1), bytesOf(300, 1));
    await setVhdxUserMetadata(file, guidOf(2), bytesOf(10_000, 2));
    await setVhdxUserMetadata(file, guidOf(1), bytesOf(5, 3));
    await removeVhdxUserMetadata(file, guidOf(2));
    expect(execFileSync("qemu-img", ["check", file], { encoding: "utf8" })).toMatch(/No errors were found/);
    const info = JSON.parse(execFileSync("qemu-img", ["info", "--output=json", file], { encoding: "utf8" }));
    expect(info["virtual-size"]).toBe(32 * MiB);
    expect(execFileSync("qemu-io", ["-r", "-c", "read -P 0x33 0 2M", file], { encoding: "utf8" })).not.toMatch(
      /fail|mismatch/i,
    );
    const image = await openVhdx(file);
    expectItems(await itemsOf(image), new Map([[guidOf(1), bytesOf(5, 3)]]), "after qemu");
    await image.close();
  });
});

describe("power cuts", () => {
  it("leave the items as they were before an edit or after it, at every write and flush", async () => {
    const { source, image } = await newImage();
    await setUserMetadata(image, guidOf(1), bytesOf(5000, 1));
    await setUserMetadata(image, guidOf(2), bytesOf(100, 2));
    await image.close();
    const start = source.bytes().slice();
    const before = new Map([
      [guidOf(1), bytesOf(5000, 1)],
      [guidOf(2), bytesOf(100, 2)],
    ]);
    const after = new Map([
      [guidOf(2), bytesOf(100, 2)],
      [guidOf(3), bytesOf(70_000, 3)],
    ]);
    const edit = async (target: FaultInjectingSource) => {
      const opened = await openImage(target, { readOnly: false });
      await removeUserMetadata(opened, guidOf(1));
      await setUserMetadata(opened, guidOf(3), bytesOf(70_000, 3));
      await opened.close();
    };
    const counter = new FaultInjectingSource(start);
    await edit(counter);
    const middle = new Map([[guidOf(2), bytesOf(100, 2)]]);
    for (let cut = 0; cut <= counter.operations; cut++) {
      const target = new FaultInjectingSource(start, { cutAfterOperations: cut, seed: cut });
      await edit(target).catch(() => undefined);
      for (const mode of ["drop", "keep-random", "tear"] as PowerCutMode[]) {
        const survivor = await openImage(new MemorySource(await target.powerCut(mode)));
        const items = await itemsOf(survivor);
        const label = `cut ${cut} of ${counter.operations}, ${mode}`;
        const matches = [before, middle, after].some(
          (state) =>
            state.size === items.size &&
            [...state].every(([id, bytes]) => items.has(id) && Buffer.compare(items.get(id)!, bytes) === 0),
        );
        expect(matches, `${label}: ${[...items.keys()].join(", ")}`).toBe(true);
        expect(
          (await survivor.read(MiB, 4096)).every((b) => b === 0x5a),
          label,
        ).toBe(true);
        await survivor.close();
      }
    }
  }, 120_000);
});
