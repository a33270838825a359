// openChains: disks handed over together (Files dropped on a page), in any
// order and under any names, arranged into chains by linkage alone.
import { type Fixture, STATE, buildVhdx } from "@vhdx-tools/fixtures";
import { describe, expect, it } from "vitest";
import { BlobSource, MemorySource, type RandomAccessSource, openChains } from "../src/index.js";
import { expectSameBytes } from "./http-helpers.js";

const MiB = 1 << 20;

function dynamic(seedBlocks: number[]): Fixture {
  return buildVhdx({
    virtualSize: 4 * MiB,
    blockSize: MiB,
    type: "dynamic",
    blocks: Object.fromEntries(seedBlocks.map((block) => [block, { state: STATE.FULLY_PRESENT }])),
  });
}

/** A child of `parent` whose locator points at `relativePath` (which need not exist). */
function childOf(parent: Fixture, relativePath: string, blocks: Record<number, { state: number }>): Fixture {
  return buildVhdx(
    {
      virtualSize: 4 * MiB,
      blockSize: MiB,
      type: "differencing",
      parent: { dataWriteGuid: parent.dataWriteGuid, paths: { relative_path: relativePath } },
      blocks,
    },
    parent,
  );
}

/** A File as a page gets it from a drop: bytes under a name the person chose. */
const file = (fixture: Fixture | Uint8Array, name: string): RandomAccessSource =>
  new BlobSource(new Blob([fixture instanceof Uint8Array ? fixture : fixture.bytes]), name);

const base = dynamic([0, 1, 2]);
const middle = childOf(base, "base.vhdx", { 1: { state: STATE.FULLY_PRESENT } });
const top = childOf(middle, "middle.vhdx", {
  2: { state: STATE.PARTIALLY_PRESENT },
  3: { state: STATE.FULLY_PRESENT },
});

describe("openChains", () => {
  it("arranges a three-level chain given shuffled, under misleading names, by linkage", async () => {
    const sources = [file(middle, "base.vhdx"), file(top, "middle.vhdx"), file(base, "top.vhdx")];
    const { images, unused } = await openChains(sources);
    expect(unused).toEqual([]);
    expect(images).toHaveLength(1);
    const image = images[0]!;
    expect(image.source).toBe(sources[1]);
    expect(image.parent?.source).toBe(sources[0]);
    expect(image.parent?.parent?.source).toBe(sources[2]);
    expectSameBytes(await image.read(0, 4 * MiB), top.expected);
    await image.close();
    // The sources stay the caller's: still readable after the image is closed.
    for (const source of sources) expect(await source.size()).toBeGreaterThan(0);
  });

  it("opens separate disks as separate images, in the order given", async () => {
    const one = dynamic([0]);
    const two = dynamic([3]);
    const { images, unused } = await openChains([file(two, "a.vhdx"), file(one, "b.vhdx")]);
    expect(unused).toEqual([]);
    expect(images.map((image) => image.dataWriteGuid)).toEqual([two.dataWriteGuid, one.dataWriteGuid]);
    expect(images.every((image) => image.parent === null)).toBe(true);
  });

  it("opens two children of one base as two chains", async () => {
    const sibling = childOf(base, "base.vhdx", { 0: { state: STATE.ZERO } });
    const { images } = await openChains([file(base, "x"), file(middle, "y"), file(sibling, "z")]);
    expect(images.map((image) => image.dataWriteGuid)).toEqual([middle.dataWriteGuid, sibling.dataWriteGuid]);
    expectSameBytes(await images[1]!.read(0, 4 * MiB), sibling.expected);
  });

  describe("a missing middle parent", () => {
    const sources = () => [file(top, "top.vhdx"), file(base, "base.vhdx")];

    it("reports the child whose parent is missing in `unused`, and opens the rest", async () => {
      const given = sources();
      const { images, unused } = await openChains(given);
      expect(images.map((image) => image.dataWriteGuid)).toEqual([base.dataWriteGuid]);
      expect(unused).toHaveLength(1);
      expect(unused[0]!.source).toBe(given[0]);
      expect(unused[0]!.error?.code).toBe("PARENT_NOT_FOUND");
      expect(unused[0]!.reason).toContain(middle.dataWriteGuid);
    });

    it("opens it with parentError under requireParent: false", async () => {
      const { images, unused } = await openChains(sources(), { requireParent: false });
      expect(unused).toEqual([]);
      const [child, other] = images;
      expect(child?.dataWriteGuid).toBe(top.dataWriteGuid);
      expect(child?.parent).toBeNull();
      expect(child?.parentError?.code).toBe("PARENT_NOT_FOUND");
      expect(other?.dataWriteGuid).toBe(base.dataWriteGuid);
    });
  });

  it("lists what is not VHDX in `unused` with the reason, without throwing", async () => {
    const qcow2 = new Uint8Array(4096);
    qcow2.set([0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 3]);
    const random = Uint8Array.from({ length: 8192 }, (_, i) => (i * 7919) % 251);
    const given = [
      file(qcow2, "disk.qcow2"),
      file(base, "base.vhdx"),
      file(random, "noise.bin"),
      file(new Uint8Array(0), "empty"),
    ];
    const { images, unused } = await openChains(given);
    expect(images.map((image) => image.dataWriteGuid)).toEqual([base.dataWriteGuid]);
    expect(unused.map(({ source }) => source)).toEqual([given[0], given[2], given[3]]);
    expect(unused.map(({ error }) => error?.code)).toEqual(["UNSUPPORTED_FORMAT", "NOT_VHDX", "NOT_VHDX"]);
    expect(unused[0]!.reason).toMatch(/qcow2/i);
    for (const { reason, error } of unused) expect(reason).toBe(error?.message);
  });

  it("uses one copy of a disk given twice and reports the other", async () => {
    const given = [file(base, "base.vhdx"), file(middle, "middle.vhdx"), file(base, "base (1).vhdx")];
    const { images, unused } = await openChains(given);
    expect(images).toHaveLength(1);
    expect(images[0]?.parent?.source).toBe(given[0]);
    expect(unused).toEqual([{ source: given[2], reason: expect.stringContaining("the same disk as base.vhdx") }]);
  });

  it("reports the disks of a loop of parents", async () => {
    // Two disks that name each other as parent: no chain starts anywhere.
    const a = buildVhdx({
      virtualSize: 4 * MiB,
      blockSize: MiB,
      type: "differencing",
      dataWriteGuid: "11111111-1111-1111-1111-111111111111",
      parent: { dataWriteGuid: "22222222-2222-2222-2222-222222222222", paths: { relative_path: "b.vhdx" } },
    });
    const b = buildVhdx({
      virtualSize: 4 * MiB,
      blockSize: MiB,
      type: "differencing",
      dataWriteGuid: "22222222-2222-2222-2222-222222222222",
      parent: { dataWriteGuid: "11111111-1111-1111-1111-111111111111", paths: { relative_path: "a.vhdx" } },
    });
    const { images, unused } = await openChains([file(a, "a.vhdx"), file(b, "b.vhdx")]);
    expect(images).toEqual([]);
    expect(unused.map(({ reason }) => reason)).toEqual([
      expect.stringContaining("loop of parents"),
      expect.stringContaining("loop of parents"),
    ]);
  });

  it("passes options through and refuses unknown ones", async () => {
    await expect(openChains([new MemorySource(base.bytes)], { readonly: true } as never)).rejects.toThrow(
      /unknown option "readonly"/,
    );
    const { images } = await openChains([new MemorySource(base.bytes)], { readOnly: false });
    expect(images[0]?.readOnly).toBe(false);
    await images[0]?.close();
  });
});
