// image.extents(): on QEMU images the runs are what the BAT says, block for
// block, and read back as the disk's bytes; on generated differencing chains
// every sector's kind, depth and state is the generator's model and data runs
// point at the right bytes of the right file; neighbours that agree merge;
// sub-ranges are the whole map clipped; a child past its parent's end reads
// unallocated; a paged BAT is walked a window at a time.
import { readFileSync, writeFileSync } from "node:fs";
import { PAYLOAD_STATE_NAMES } from "@vhdx/bat";
import { type FixtureSpec, STATE, buildVhdx } from "@vhdx-tools/fixtures";
import { type TempDir, oracles, qemuConvertToRaw, qemuCreate, qemuIo, tempDir } from "@vhdx-tools/oracles";
import { BAT_REGION_GUID, REGION_TABLE_1_OFFSET, decodeRegionTable } from "@vhdx/structs";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  type DiskExtent,
  LARGEST_WHOLE_BAT,
  MemorySource,
  VhdxError,
  type VhdxImage,
  openImage,
} from "../src/index.js";
import { openVhdx } from "../src/node/index.js";

const MiB = 2 ** 20;
const GiB = 2 ** 30;
const TiB = 2 ** 40;

let dir: TempDir;
beforeAll(() => {
  dir = tempDir("vhdx-extents-");
});
afterAll(() => dir?.remove());

async function collect(image: VhdxImage, offset?: number, length?: number): Promise<DiskExtent[]> {
  const extents: DiskExtent[] = [];
  for await (const extent of image.extents(offset, length)) extents.push(extent);
  return extents;
}

/** In order, no gaps, covering [offset, offset + length); data has file and fileOffset, the rest neither; no neighbours that should have merged. */
function expectWellFormed(extents: DiskExtent[], offset: number, length: number): void {
  let end = offset;
  for (const [i, e] of extents.entries()) {
    expect([e.start, e.length > 0], `extent ${i}`).toEqual([end, true]);
    expect(e.file !== undefined && e.fileOffset !== undefined).toBe(e.kind === "data");
    const before = extents[i - 1];
    if (before !== undefined) {
      const same =
        before.kind === e.kind && before.depth === e.depth && before.state === e.state && before.file === e.file;
      const contiguous = e.kind !== "data" || before.fileOffset! + before.length === e.fileOffset;
      expect(same && contiguous, `extents ${i - 1} and ${i} should have merged`).toBe(false);
    }
    end = e.start + e.length;
  }
  expect(end).toBe(offset + length);
}

/** The extents of the whole map that fall in [offset, offset + length), cut there. */
function clip(extents: DiskExtent[], offset: number, length: number): DiskExtent[] {
  return extents.flatMap((e) => {
    const start = Math.max(e.start, offset);
    const end = Math.min(e.start + e.length, offset + length);
    if (start >= end) return [];
    return [
      {
        ...e,
        start,
        length: end - start,
        ...(e.fileOffset === undefined ? {} : { fileOffset: e.fileOffset + (start - e.start) }),
      },
    ];
  });
}

// ------------------------------------------------------------ QEMU images

/** Per block of a small non-differencing image, straight from its BAT: [kind, state, file offset]. */
function batModel(path: string, blocks: number): Array<[string, string, number | undefined]> {
  const bytes = new Uint8Array(readFileSync(path));
  const bat = decodeRegionTable(bytes, REGION_TABLE_1_OFFSET).entries.find(
    (e) => e.guid === BAT_REGION_GUID,
  )!.fileOffset;
  const view = new DataView(bytes.buffer);
  return Array.from({ length: blocks }, (_, i) => {
    const low = view.getUint32(bat + i * 8, true);
    const state = low & 7;
    const offset = ((low >>> 20) + view.getUint32(bat + i * 8 + 4, true) * 4096) * MiB;
    const kind = state === 6 ? "data" : state === 0 ? "unallocated" : "zero";
    return [kind, PAYLOAD_STATE_NAMES[state]!, state === 6 ? offset : undefined];
  });
}

describe.runIf(oracles("qemu-img", "qemu-io"))("images QEMU made", () => {
  const writes = [
    "write -P 0x11 1M 1M",
    "write -P 0x22 5M 64k",
    "write -P 0x33 9M 2M",
    "write -z 20M 3M",
    "write -P 0x44 40M 512",
    "write -z 41M 4k",
  ];
  it.each([
    ["dynamic", true],
    ["dynamic", false],
    ["fixed", true],
    ["fixed", false],
  ] as const)(
    "%s, block_state_zero %s: the BAT's story block for block, data reading back as the disk",
    async (subformat, blockStateZero) => {
      const path = dir.file(`${subformat}-${blockStateZero}.vhdx`);
      qemuCreate(path, { size: 64 * MiB, subformat, blockSize: MiB, blockStateZero });
      qemuIo(path, writes);
      qemuConvertToRaw(path, `${path}.raw`);
      const image = await openVhdx(path);
      const extents = await collect(image);
      await image.close();
      expectWellFormed(extents, 0, 64 * MiB);
      const perBlock = extents.flatMap((e) =>
        Array.from({ length: e.length / MiB }, (_, k): [string, string, number | undefined] => [
          e.kind,
          e.state,
          e.fileOffset === undefined ? undefined : e.fileOffset + k * MiB,
        ]),
      );
      expect(perBlock).toEqual(batModel(path, 64));
      expect(extents.every((e) => e.depth === 0 && (e.kind !== "data" || e.file === path))).toBe(true);
      const file = new Uint8Array(readFileSync(path));
      const raw = new Uint8Array(readFileSync(`${path}.raw`));
      for (const e of extents) {
        const virtual = raw.subarray(e.start, e.start + e.length);
        if (e.kind === "data")
          expect(Buffer.compare(virtual, file.subarray(e.fileOffset!, e.fileOffset! + e.length))).toBe(0);
        else expect(virtual.every((b) => b === 0)).toBe(true);
      }
    },
  );

  it("walks a paged BAT a window at a time, never all of it", async () => {
    const path = dir.file("big.vhdx");
    const size = 8 * TiB; // a 64 MiB BAT
    qemuCreate(path, { size, subformat: "dynamic", blockSize: MiB });
    qemuIo(path, ["write -P 0x11 0 3M", "write -P 0x22 4398045462528 2M", `write -P 0x33 ${size - MiB} 1M`]); // the middle one across a chunk edge
    const image = await openVhdx(path);
    try {
      expect(image.geometry.batByteLength).toBeGreaterThan(LARGEST_WHOLE_BAT);
      const windows = vi.spyOn(image, "batWindow");
      const extents = await collect(image);
      expectWellFormed(extents, 0, size);
      expect(extents.filter((e) => e.kind === "data").map((e) => [e.start, e.length])).toEqual([
        [0, 3 * MiB],
        [4 * TiB - MiB, 2 * MiB],
        [size - MiB, MiB],
      ]);
      for (const result of windows.mock.results) {
        const table = await result.value;
        expect(table.endEntry - table.firstEntry).toBeLessThan(10_000);
      }
      expect(await collect(image, 4 * TiB - 3 * MiB - 7, 6 * MiB)).toEqual(
        clip(extents, 4 * TiB - 3 * MiB - 7, 6 * MiB),
      );
    } finally {
      await image.close();
    }
  }, 60_000);
});

// ------------------------------------------------------------ generated chains

interface Layer {
  spec: FixtureSpec;
  bytes: Uint8Array;
}

/** What the generator's specs say about the byte at `position`: the first image of the chain (top first) that answers. */
function modelAt(chain: Layer[], position: number): Pick<DiskExtent, "kind" | "depth" | "state"> {
  for (const [depth, { spec }] of chain.entries()) {
    if (position >= spec.virtualSize) return { kind: "unallocated", depth, state: "NOT_PRESENT" };
    const block = Math.floor(position / spec.blockSize);
    const entry = spec.blocks?.[block];
    const state = entry?.state ?? STATE.NOT_PRESENT;
    const sector = Math.floor((position % spec.blockSize) / (spec.logicalSectorSize ?? 512));
    const named = { depth, state: PAYLOAD_STATE_NAMES[state]! };
    if (state === STATE.FULLY_PRESENT || (state === STATE.PARTIALLY_PRESENT && entry!.presentSectors!(sector)))
      return { kind: "data", ...named };
    if (spec.type === "differencing" && (state === STATE.NOT_PRESENT || state === STATE.PARTIALLY_PRESENT)) continue;
    return { kind: state === STATE.NOT_PRESENT ? "unallocated" : "zero", ...named };
  }
  throw new Error("the chain ends in a differencing disk");
}

/** Writes the chain (top first) as files c0.vhdx <- c1.vhdx <- ... and opens the top. */
function writeChain(
  name: string,
  specs: FixtureSpec[],
): { chain: Layer[]; expectedAt: (offset: number, length: number) => Uint8Array; open: () => Promise<VhdxImage> } {
  const chain: Layer[] = [];
  let below: ReturnType<typeof buildVhdx> | undefined;
  for (let depth = specs.length - 1; depth >= 0; depth--) {
    const spec = specs[depth]!;
    const linked =
      below === undefined
        ? spec
        : {
            ...spec,
            parent: { dataWriteGuid: below.dataWriteGuid, paths: { relative_path: `${name}-${depth + 1}.vhdx` } },
          };
    below = buildVhdx(linked, below);
    writeFileSync(dir.file(`${name}-${depth}.vhdx`), below.bytes);
    chain.unshift({ spec, bytes: below.bytes });
  }
  return { chain, expectedAt: below!.expectedAt, open: () => openVhdx(dir.file(`${name}-0.vhdx`)) };
}

/** Every sector's model, each data run's bytes in its file, each zero run's zeros, each data run's file name. */
async function expectMatchesChain(
  image: VhdxImage,
  extents: DiskExtent[],
  chain: Layer[],
  expectedAt: (o: number, l: number) => Uint8Array,
): Promise<void> {
  const names: string[] = [];
  for (let layer: VhdxImage | null = image; layer !== null; layer = layer.parent) names.push(layer.source.name);
  const sector = chain[0]!.spec.logicalSectorSize ?? 512;
  for (const e of extents) {
    for (let at = e.start; at < e.start + e.length; at = (Math.floor(at / sector) + 1) * sector) {
      expect({ kind: e.kind, depth: e.depth, state: e.state }, `byte ${at}`).toEqual(modelAt(chain, at));
    }
    const expected = expectedAt(e.start, e.length);
    if (e.kind !== "data") {
      expect(expected.every((b) => b === 0)).toBe(true);
      continue;
    }
    expect(e.file).toBe(names[e.depth]);
    expect(
      Buffer.compare(chain[e.depth]!.bytes.subarray(e.fileOffset!, e.fileOffset! + e.length), expected),
      `data at ${e.start}`,
    ).toBe(0);
  }
}

const everyOther = (sector: number) => sector % 2 === 0;

/** top <- mid <- base, every state a differencing disk can hold. */
function chainSpecs(sectorSize: 512 | 4096): FixtureSpec[] {
  const common = { virtualSize: 8 * MiB, blockSize: MiB, logicalSectorSize: sectorSize } as const;
  const full = { state: STATE.FULLY_PRESENT };
  return [
    {
      ...common,
      type: "differencing",
      blocks: {
        1: { state: STATE.PARTIALLY_PRESENT, presentSectors: (s) => s % 3 === 0 },
        2: full,
        7: { state: STATE.PARTIALLY_PRESENT, presentSectors: (s) => s > 5 },
      },
    },
    {
      ...common,
      type: "differencing",
      blocks: {
        0: full,
        1: { state: STATE.PARTIALLY_PRESENT, presentSectors: everyOther },
        3: { state: STATE.ZERO },
        4: { state: STATE.PARTIALLY_PRESENT, presentSectors: (s) => s < MiB / sectorSize / 2 },
        5: { state: STATE.UNMAPPED },
        6: { state: STATE.UNDEFINED },
      },
    },
    {
      ...common,
      type: "dynamic",
      blocks: { 0: full, 1: full, 2: full, 3: full, 4: full, 7: { state: STATE.UNMAPPED_V095 } },
    },
  ];
}

describe("differencing chains from the fixture generator", () => {
  it.each([512, 4096] as const)(
    "every sector's kind, depth and state is the model's; data runs point at its bytes (%i-byte sectors)",
    async (sectorSize) => {
      const { chain, expectedAt, open } = writeChain(`chain${sectorSize}`, chainSpecs(sectorSize));
      const image = await open();
      try {
        const extents = await collect(image);
        expectWellFormed(extents, 0, 8 * MiB);
        await expectMatchesChain(image, extents, chain, expectedAt);
        expect(extents.find((e) => e.start === 5 * MiB)).toMatchObject({
          length: MiB,
          kind: "zero",
          depth: 1,
          state: "UNMAPPED",
        });
        expect(extents.find((e) => e.start === 6 * MiB)).toMatchObject({
          length: MiB,
          kind: "zero",
          depth: 1,
          state: "UNDEFINED",
        });
        expect(extents.find((e) => e.start === 7 * MiB)).toMatchObject({
          kind: "zero",
          depth: 2,
          state: "UNMAPPED (v0.95)",
        });

        let seed = sectorSize;
        const pick = (limit: number) => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % limit;
        for (let n = 0; n < 60; n++) {
          const offset = pick(8 * MiB);
          const length = pick(Math.min(8 * MiB - offset, 3 * MiB) + 1);
          const part = await collect(image, offset, length);
          expect(part, `${length} bytes at ${offset}`).toEqual(clip(extents, offset, length));
        }
      } finally {
        await image.close();
      }
    },
  );

  it("merges neighbours that agree: contiguous data blocks, and zeros in the same state", async () => {
    const full = { state: STATE.FULLY_PRESENT };
    const zero = { state: STATE.ZERO };
    const image = await openImage(
      new MemorySource(
        buildVhdx({
          virtualSize: 8 * MiB,
          blockSize: MiB,
          type: "dynamic",
          blocks: { 0: full, 1: full, 2: zero, 3: zero, 4: { state: STATE.UNMAPPED } },
        }).bytes,
      ),
    );
    const extents = await collect(image);
    expect(extents.map((e) => [e.start / MiB, e.length / MiB, e.kind, e.state])).toEqual([
      [0, 2, "data", "FULLY_PRESENT"],
      [2, 2, "zero", "ZERO"],
      [4, 1, "zero", "UNMAPPED"],
      [5, 3, "unallocated", "NOT_PRESENT"],
    ]);
    expect(extents[0]!.file).toBe("memory");
  });

  it("crosses the 4 GiB chunk edge, each side with its own sector bitmap", async () => {
    const virtualSize = 4 * GiB + 8 * MiB;
    const full = { state: STATE.FULLY_PRESENT };
    const { chain, expectedAt, open } = writeChain("edge", [
      {
        virtualSize,
        blockSize: MiB,
        type: "differencing",
        blocks: {
          4095: { state: STATE.PARTIALLY_PRESENT, presentSectors: (s) => s % 4 === 1 },
          4096: { state: STATE.PARTIALLY_PRESENT, presentSectors: (s) => s % 5 === 0 },
          4097: full,
        },
      },
      { virtualSize, blockSize: MiB, type: "dynamic", blocks: { 4095: full, 4096: full } },
    ]);
    const image = await open();
    try {
      const start = 4094 * MiB + 333;
      const extents = await collect(image, start, 5 * MiB);
      expectWellFormed(extents, start, 5 * MiB);
      await expectMatchesChain(image, extents, chain, expectedAt);
      expect(await collect(image, 4096 * MiB - 1536, 4096)).toEqual(clip(extents, 4096 * MiB - 1536, 4096));
    } finally {
      await image.close();
    }
  }, 60_000);

  it("reads unallocated past the end of a smaller parent, at the parent's depth", async () => {
    const { open } = writeChain("larger", [
      { virtualSize: 4 * MiB, blockSize: MiB, type: "differencing", blocks: { 3: { state: STATE.ZERO } } },
      { virtualSize: MiB + 512, blockSize: MiB, type: "dynamic", blocks: { 0: { state: STATE.FULLY_PRESENT } } },
    ]);
    const image = await open();
    const extents = await collect(image);
    await image.close();
    expect(extents.map((e) => [e.start, e.length, e.kind, e.depth, e.state])).toEqual([
      [0, MiB, "data", 1, "FULLY_PRESENT"],
      [MiB, 2 * MiB, "unallocated", 1, "NOT_PRESENT"], // the parent's last block, then past its end: one run
      [3 * MiB, MiB, "zero", 0, "ZERO"],
    ]);
  });

  it("walks a huge NOT_PRESENT child in the parent a window at a time, not a block at a time", async () => {
    const size = TiB;
    const { open } = writeChain("huge", [
      { virtualSize: size, blockSize: MiB, type: "differencing" },
      {
        virtualSize: size,
        blockSize: MiB,
        type: "dynamic",
        blocks: { [size / MiB - 1]: { state: STATE.FULLY_PRESENT } },
      },
    ]);
    const image = await open();
    try {
      const windows = vi.spyOn(image.parent!, "batWindow");
      const extents = await collect(image);
      expect(extents.map((e) => [e.start, e.length, e.kind, e.depth])).toEqual([
        [0, size - MiB, "unallocated", 1],
        [size - MiB, MiB, "data", 1],
      ]);
      expect(windows.mock.calls.length).toBe(size / (4 * GiB));
    } finally {
      await image.close();
    }
  }, 60_000);
});

describe("arguments", () => {
  it("refuses ranges outside the disk (OUT_OF_RANGE) and non-numbers (TypeError) when called; an empty range has no extents", async () => {
    const image = await openImage(
      new MemorySource(buildVhdx({ virtualSize: 4 * MiB, blockSize: MiB, type: "dynamic" }).bytes),
    );
    for (const [offset, length] of [
      [-1, 1],
      [0, 4 * MiB + 1],
      [4 * MiB + 1, undefined],
      [1.5, 1],
      [0, Number.NaN],
      [2 ** 60, 1],
    ]) {
      let error: unknown;
      try {
        image.extents(offset, length);
      } catch (e) {
        error = e;
      }
      expect(VhdxError.isInstance(error) && error.code, `${offset}, ${length}`).toBe("OUT_OF_RANGE");
    }
    expect(() => image.extents("0" as unknown as number)).toThrow(TypeError);
    expect(() => image.extents(0, null as unknown as number)).toThrow(TypeError);
    expect(await collect(image, 4 * MiB)).toEqual([]);
    expect(await collect(image, MiB, 0)).toEqual([]);
    expect(await collect(image, 7, 9)).toEqual([
      { start: 7, length: 9, kind: "unallocated", state: "NOT_PRESENT", depth: 0 },
    ]);
  });
});
