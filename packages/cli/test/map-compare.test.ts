// vhdx map and vhdx compare. map: on QEMU-made images its extents cover the
// disk in order, its data extents are exactly the allocated blocks at their
// file offsets (checked byte for byte against qemu-img convert), adjacent
// extents that agree are merged, and a differencing chain shows depths.
// compare: the same verdict, message and first differing offset as
// qemu-img compare on VHDX/raw pairs, exit statuses 0/1/2.
import { copyFileSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createVhdx, openVhdx } from "@vhdx/image/node";
import { BAT_REGION_GUID, REGION_TABLE_1_OFFSET, decodeRegionTable } from "@vhdx/structs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, oracle, vhdx, vhdxProcess } from "./harness.js";

const MiB = 1 << 20;
const hasQemu = [oracle("qemu-img"), oracle("qemu-io")].every(Boolean);

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "vhdx-map-compare-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// ------------------------------------------------------------ helpers

const at = (name: string) => join(dir, name);

function spawn(command: string, args: string[]): { status: number; stdout: string; stderr: string } {
  const result = spawnSync(command, args, { encoding: "utf8" });
  if (result.error) throw result.error;
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

function qemuImage(name: string, size: string, options: string, writes: string[] = []): string {
  const path = at(name);
  spawn("qemu-img", ["create", "-q", "-f", "vhdx", "-o", options, path, size]);
  if (writes.length > 0) {
    const io = spawn("qemu-io", ["-f", "vhdx", ...writes.flatMap((w) => ["-c", w]), path]);
    if (io.status !== 0) throw new Error(io.stderr);
  }
  return path;
}

function toRaw(vhdxPath: string, name: string): string {
  const path = at(name);
  spawn("qemu-img", ["convert", "-f", "vhdx", "-O", "raw", vhdxPath, path]);
  return path;
}

/** Payload block states and file offsets, straight from the BAT (non-differencing, chunk ratio >= block count). */
function batBlocks(path: string, blocks: number): Array<{ state: number; offset: number }> {
  const bytes = new Uint8Array(readFileSync(path));
  const bat = decodeRegionTable(bytes, REGION_TABLE_1_OFFSET).entries.find(
    (e) => e.guid === BAT_REGION_GUID,
  )!.fileOffset;
  const view = new DataView(bytes.buffer);
  return Array.from({ length: blocks }, (_, i) => {
    const low = view.getUint32(bat + i * 8, true);
    return { state: low & 7, offset: ((low >>> 20) + view.getUint32(bat + i * 8 + 4, true) * 4096) * MiB };
  });
}

interface Extent {
  start: number;
  length: number;
  depth: number;
  present: boolean;
  zero: boolean;
  data: boolean;
  offset?: number;
  state: string;
}

async function mapJson(path: string): Promise<Extent[]> {
  const outcome = await vhdx(["map", "--json", path]);
  expect(outcome.stderr).toBe("");
  expect(outcome.status).toBe(0);
  return JSON.parse(outcome.stdout) as Extent[];
}

/** Extents in order, no gaps, covering [0, size); adjacent ones never agree (they would have been merged). */
function expectWellFormed(extents: Extent[], size: number): void {
  let end = 0;
  for (const [i, e] of extents.entries()) {
    expect(Object.keys(e)).toEqual([
      "start",
      "length",
      "depth",
      "present",
      "zero",
      "data",
      ...(e.data ? ["offset"] : []),
      "state",
    ]);
    expect(e.start, `extent ${i}`).toBe(end);
    expect(e.length).toBeGreaterThan(0);
    end = e.start + e.length;
    const before = extents[i - 1];
    if (before !== undefined) {
      const same =
        before.depth === e.depth &&
        before.present === e.present &&
        before.zero === e.zero &&
        before.data === e.data &&
        before.state === e.state;
      const contiguous = !e.data || before.offset! + before.length === e.offset;
      expect(same && contiguous, `extents ${i - 1} and ${i} should have been merged`).toBe(false);
    }
  }
  expect(end).toBe(size);
}

function qemuCompare(args: string[]) {
  return spawn("qemu-img", ["compare", ...args]);
}

// ------------------------------------------------------------ map

describe.skipIf(!hasQemu)("vhdx map", () => {
  it("on a QEMU image with writes and write -z: data extents are exactly the allocated blocks, at their file offsets", async () => {
    const path = qemuImage("written.vhdx", "64M", "subformat=dynamic,block_size=1M", [
      "write -P 0x11 1M 1M",
      "write -P 0x22 5M 64k",
      "write -P 0x33 9M 2M",
      "write -z 20M 1M",
      "write -P 0x44 40M 512",
    ]);
    const extents = await mapJson(path);
    expectWellFormed(extents, 64 * MiB);

    const blocks = batBlocks(path, 64);
    const allocated = blocks.flatMap((b, i) => (b.state === 6 ? [i] : []));
    expect(allocated).toEqual(expect.arrayContaining([1, 5, 9, 10, 40]));
    const covered: number[] = [];
    for (const e of extents.filter((x) => x.data)) {
      expect(e.depth).toBe(0);
      expect(e.state).toBe("FULLY_PRESENT");
      for (let virtual = e.start; virtual < e.start + e.length; virtual += MiB) {
        const block = virtual / MiB;
        covered.push(block);
        expect(e.offset! + (virtual - e.start)).toBe(blocks[block]!.offset);
      }
    }
    expect(covered).toEqual(allocated);
    for (const e of extents.filter((x) => !x.data)) expect([e.zero, e.present, e.state]).toEqual([true, true, "ZERO"]);
    // Blocks 9 and 10 sit next to each other in the file: one extent.
    expect(extents.find((e) => e.start === 9 * MiB)).toMatchObject({ length: 2 * MiB, data: true });

    // Every byte: data extents hold the virtual disk's bytes at `offset`, zero extents read zeros.
    const file = new Uint8Array(readFileSync(path));
    const raw = new Uint8Array(readFileSync(toRaw(path, "written.raw")));
    for (const e of extents) {
      const virtual = raw.subarray(e.start, e.start + e.length);
      if (e.data) expect(Buffer.compare(virtual, file.subarray(e.offset!, e.offset! + e.length))).toBe(0);
      else expect(virtual.every((b) => b === 0)).toBe(true);
    }

    const human = await vhdx(["map", path]);
    const lines = human.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^Offset\s+Length\s+Mapped to\s+Depth\s+State\s+File$/);
    expect(lines).toHaveLength(extents.length + 1);
    expect(lines).toContain(
      `${"0x900000".padEnd(16)}${"0x200000".padEnd(16)}${`0x${blocks[9]!.offset.toString(16)}`.padEnd(16)}${"0".padEnd(7)}${"FULLY_PRESENT".padEnd(20)}${path}`,
    );
  });

  it("NOT_PRESENT blocks of a disk without a parent are absent zeros, merged into one extent", async () => {
    const path = qemuImage("sparse.vhdx", "32M", "subformat=dynamic,block_size=1M,block_state_zero=off", [
      "write -P 0x55 3M 4k",
    ]);
    const extents = await mapJson(path);
    expectWellFormed(extents, 32 * MiB);
    expect(extents.map((e) => [e.start, e.length, e.present, e.zero, e.data, e.state])).toEqual([
      [0, 3 * MiB, false, true, false, "NOT_PRESENT"],
      [3 * MiB, MiB, true, false, true, "FULLY_PRESENT"],
      [4 * MiB, 28 * MiB, false, true, false, "NOT_PRESENT"],
    ]);
  });

  it("a differencing chain: each extent's depth says which file holds it, and the offsets are right", async () => {
    const base = qemuImage("chain-base.vhdx", "16M", "subformat=dynamic,block_size=1M", [
      "write -P 0x11 0 3M",
      "write -P 0x22 4M 1M",
    ]);
    const child = at("chain-child.vhdx");
    const grandchild = at("chain-grandchild.vhdx");
    const c = await createVhdx(child, { type: "differencing", parent: base, blockSize: MiB });
    await c.write(2 * MiB, new Uint8Array(MiB).fill(0x77)); // FULLY_PRESENT in the child
    await c.write(4 * MiB + 4096, new Uint8Array(8192).fill(0x66)); // PARTIALLY_PRESENT in the child
    await c.writeZeroes(6 * MiB, MiB); // ZERO in the child
    await c.close();
    const g = await createVhdx(grandchild, { type: "differencing", parent: child });
    await g.write(8 * MiB, new Uint8Array(512).fill(0x01));
    await g.close();

    const extents = await mapJson(grandchild);
    expectWellFormed(extents, 16 * MiB);
    const at0 = (start: number) => extents.find((e) => e.start <= start && start < e.start + e.length)!;
    expect(at0(0)).toMatchObject({ depth: 2, data: true, state: "FULLY_PRESENT" });
    expect(at0(2 * MiB)).toMatchObject({ depth: 1, data: true, state: "FULLY_PRESENT" });
    expect(at0(4 * MiB)).toMatchObject({ depth: 2, data: true });
    expect(at0(4 * MiB + 4096)).toMatchObject({
      start: 4 * MiB + 4096,
      length: 8192,
      depth: 1,
      data: true,
      state: "PARTIALLY_PRESENT",
    });
    expect(at0(4 * MiB + 12288)).toMatchObject({ depth: 2, data: true });
    expect(at0(6 * MiB)).toMatchObject({ depth: 1, zero: true, data: false, state: "ZERO" });
    expect(at0(8 * MiB)).toMatchObject({
      start: 8 * MiB,
      length: 512,
      depth: 0,
      data: true,
      state: "PARTIALLY_PRESENT",
    });
    expect(at0(15 * MiB)).toMatchObject({ depth: 2, zero: true, data: false });

    const files = [grandchild, child, base].map((p) => new Uint8Array(readFileSync(p)));
    const image = await openVhdx(grandchild);
    try {
      for (const e of extents) {
        const virtual = await image.read(e.start, e.length);
        if (e.data)
          expect(
            Buffer.compare(virtual, files[e.depth]!.subarray(e.offset!, e.offset! + e.length)),
            `extent at ${e.start}`,
          ).toBe(0);
        else expect(virtual.every((b) => b === 0)).toBe(true);
      }
    } finally {
      await image.close();
    }
  });

  it("keeps apart neighbours in different states, and data blocks not contiguous in the file", async () => {
    const path = at("states.vhdx");
    const image = await createVhdx(path, { type: "dynamic", size: 16 * MiB, blockSize: MiB });
    await image.write(5 * MiB, new Uint8Array(MiB).fill(5)); // allocated first: lies before block 4 in the file
    await image.write(0, new Uint8Array(3 * MiB).fill(1));
    await image.write(4 * MiB, new Uint8Array(MiB).fill(4));
    await image.writeZeroes(MiB, MiB); // ZERO
    await image.discard(2 * MiB, MiB); // UNMAPPED
    await image.close();
    const extents = await mapJson(path);
    expectWellFormed(extents, 16 * MiB);
    expect(extents.map((e) => [e.start / MiB, e.length / MiB, e.state])).toEqual([
      [0, 1, "FULLY_PRESENT"],
      [1, 1, "ZERO"],
      [2, 1, "UNMAPPED"],
      [3, 1, "NOT_PRESENT"],
      [4, 1, "FULLY_PRESENT"],
      [5, 1, "FULLY_PRESENT"],
      [6, 10, "NOT_PRESENT"],
    ]);
    expect(extents[4]!.offset! + MiB).not.toBe(extents[5]!.offset);
  });

  it("maps a raw file as one data extent; a missing file is exit 2", async () => {
    const raw = at("map.raw");
    writeFileSync(raw, new Uint8Array(3 * MiB));
    expect(await mapJson(raw)).toEqual([
      { start: 0, length: 3 * MiB, depth: 0, present: true, zero: false, data: true, offset: 0, state: "RAW" },
    ]);
    const missing = await vhdx(["map", at("nowhere.vhdx")]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/^vhdx: IO_ERROR: /);
  });
});

// ------------------------------------------------------------ compare

describe.skipIf(!hasQemu)("vhdx compare agrees with qemu-img compare", () => {
  let image: string;
  let raw: string;
  let changed: string;
  beforeAll(() => {
    image = qemuImage("cmp.vhdx", "16M", "subformat=dynamic,block_size=1M", [
      "write -P 0x11 1M 1M",
      "write -P 0x22 6M 64k",
    ]);
    raw = toRaw(image, "cmp.raw");
    changed = at("cmp-changed.vhdx");
    copyFileSync(image, changed);
    spawn("qemu-io", ["-f", "vhdx", "-c", "write -P 0x99 3146728 1", changed]); // one byte at 3 MiB + 1000
    const zeros = at("zeros-8m.raw");
    writeFileSync(zeros, new Uint8Array(8 * MiB));
    const byte = new Uint8Array(8 * MiB);
    byte[1000] = 1;
    writeFileSync(at("byte-1000.raw"), byte);
    writeFileSync(at("zeros-9m.raw"), new Uint8Array(9 * MiB));
    const tail = new Uint8Array(9 * MiB);
    tail[8 * MiB + 3000] = 7;
    writeFileSync(at("tail-9m.raw"), tail);
    copyFileSync(raw, at("cmp-longer.raw"));
    truncateSync(at("cmp-longer.raw"), 20 * MiB);
    toRaw(changed, "cmp-changed.raw");
  });

  it.each([
    ["vhdx = its raw conversion", ["cmp.vhdx", "cmp.raw"], 0],
    ["vhdx = the same vhdx", ["cmp.vhdx", "cmp.vhdx"], 0],
    ["vhdx != vhdx changed by one byte", ["cmp.vhdx", "cmp-changed.vhdx"], 1],
    ["vhdx != raw of the changed one", ["cmp.vhdx", "cmp-changed.raw"], 1],
    ["raw != vhdx, either way round", ["cmp-changed.raw", "cmp.vhdx"], 1],
    ["raw = raw", ["zeros-8m.raw", "zeros-8m.raw"], 0],
    ["raw != raw (byte 1000: sector 512)", ["zeros-8m.raw", "byte-1000.raw"], 1],
    ["different sizes, the rest zeros", ["zeros-8m.raw", "zeros-9m.raw"], 0],
    ["different sizes, the rest not zeros", ["zeros-8m.raw", "tail-9m.raw"], 1],
    ["different sizes, the larger first", ["tail-9m.raw", "zeros-8m.raw"], 1],
    ["different sizes, the common part differs", ["byte-1000.raw", "tail-9m.raw"], 1],
    ["vhdx and a longer raw, zeros after", ["cmp.vhdx", "cmp-longer.raw"], 0],
    ["strict: different sizes differ", ["-s", "zeros-8m.raw", "zeros-9m.raw"], 1],
    ["-f raw: the vhdx file's own bytes", ["-f", "raw", "cmp.vhdx", "cmp.raw"], 1],
    ["-f raw -F raw: the same file", ["-f", "raw", "-F", "raw", "cmp.vhdx", "cmp.vhdx"], 0],
    ["-F vhdx", ["-F", "vhdx", "cmp.raw", "cmp.vhdx"], 0],
  ] as Array<[string, string[], number]>)("%s", async (_name, args, expected) => {
    const full = args.map((a) => (a.endsWith(".vhdx") || a.endsWith(".raw") ? at(a) : a));
    const qemu = qemuCompare(full);
    const ours = await vhdx(["compare", ...full]);
    expect(ours.stderr).toBe("");
    expect(ours.status).toBe(expected);
    expect(qemu.status).toBe(expected);
    expect(ours.stdout).toBe(qemu.stdout);
  });

  it("reports the first differing offset in --json", async () => {
    const ours = await vhdx(["compare", "--json", image, changed]);
    expect(ours.status).toBe(1);
    expect(JSON.parse(ours.stdout)).toEqual({
      identical: false,
      mismatchOffset: 3 * MiB + 512,
      sizeMismatch: false,
      sizes: { a: 16 * MiB, b: 16 * MiB },
      formats: { a: "vhdx", b: "vhdx" },
    });
    expect(qemuCompare([image, changed]).stdout).toBe(`Content mismatch at offset ${3 * MiB + 512}!\n`);
  });

  it("exit 2 when a file is missing or an argument is wrong, like qemu-img", async () => {
    for (const args of [
      [image, at("missing.raw")],
      [at("missing.vhdx"), image],
    ]) {
      const ours = await vhdx(["compare", ...args]);
      expect(ours.status).toBe(2);
      expect(ours.stderr).toMatch(/^vhdx: IO_ERROR: /);
      expect(qemuCompare(args).status).toBe(2);
    }
    expect((await vhdx(["compare", image])).status).toBe(2);
    expect((await vhdx(["compare", "-f", "qcow2", image, raw])).status).toBe(2);
  });

  it("skips what both BATs say is zeros: two 1 TiB disks differing at 900 GiB compare in moments", async () => {
    const a = qemuImage("tera-a.vhdx", "1T", "subformat=dynamic");
    const b = qemuImage("tera-b.vhdx", "1T", "subformat=dynamic", ["write -P 0x01 900G 4k"]);
    const ours = await vhdx(["compare", a, b]);
    expect(ours.stdout).toBe(`Content mismatch at offset ${900 * 1024 ** 3}!\n`);
    expect(ours.status).toBe(1);
    expect((await vhdx(["compare", a, a])).stdout).toBe("Images are identical.\n");
  }, 20_000);

  it("compares a differencing disk through its parent", async () => {
    const child = at("cmp-child.vhdx");
    const c = await createVhdx(child, { type: "differencing", parent: image, blockSize: MiB });
    await c.close();
    expect((await vhdx(["compare", child, raw])).stdout).toBe("Images are identical.\n");
    const c2 = await openVhdx(child, { readOnly: false });
    await c2.write(5 * MiB + 2048, new Uint8Array([9]));
    await c2.close();
    const ours = await vhdx(["compare", raw, child]);
    expect([ours.status, ours.stdout]).toEqual([1, `Content mismatch at offset ${5 * MiB + 2048}!\n`]);
  });
});

describe.skipIf(!hasQemu)("the built command", () => {
  beforeAll(() => ensureBuilt(), 120_000);

  it("map and compare as a subprocess", () => {
    const path = qemuImage("process.vhdx", "8M", "subformat=dynamic,block_size=1M", ["write -P 0x11 2M 1M"]);
    const raw = toRaw(path, "process.raw");
    const map = vhdxProcess(["map", "--json", path]);
    expect(map.status).toBe(0);
    expect((JSON.parse(map.stdout) as Extent[]).filter((e) => e.data).map((e) => [e.start, e.length])).toEqual([
      [2 * MiB, MiB],
    ]);
    expect(vhdxProcess(["compare", path, raw])).toMatchObject({ status: 0, stdout: "Images are identical.\n" });
    const other = at("process-other.raw");
    writeFileSync(other, new Uint8Array(8 * MiB));
    expect(vhdxProcess(["compare", path, other])).toMatchObject({
      status: 1,
      stdout: `Content mismatch at offset ${2 * MiB}!\n`,
    });
    expect(vhdxProcess(["compare", path, at("gone.raw")]).status).toBe(2);
  });
});
