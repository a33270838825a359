// Creating images (createImage, createVhdx): QEMU and libvhdi must accept what
// we write and read it as zeros, QEMU must be able to write into it, a
// differencing child must read exactly as its parent, the layout must be the
// one Windows writes (MS-VHDX 2.1 to 2.6), and every bad option is refused.
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { join, resolve } from "node:path";
import { STATE, buildVhdx, patternBlock } from "@vhdx-tools/fixtures";
import {
  BAT_REGION_GUID,
  FILE_PARAMETERS_GUID,
  METADATA_REGION_GUID,
  PARENT_LOCATOR_GUID,
  decodeFileIdentifier,
  decodeHeader,
  decodeMetadataTable,
  decodeRegionTable,
  findMetadataEntry,
  verifyHeaderChecksum,
  verifyRegionTableChecksum,
} from "@vhdx/structs";
import { afterAll, describe, expect, it } from "vitest";
import { createImage } from "../src/create/create-image.js";
import { MemorySource, VhdxError, type VhdxImage, openImage } from "../src/index.js";
import { createVhdx, parentLocatorPaths } from "../src/node/create-vhdx.js";
import { openVhdx } from "../src/node/index.js";
import {
  oracles,
  pyvhdiRead,
  qemuCheck,
  qemuConvertToRaw,
  qemuCreate,
  qemuIo,
  run,
  tempDir,
  vhdiinfoFields,
} from "@vhdx-tools/oracles";

const hasQemu = oracles("qemu-img", "qemu-io", "vhdiinfo");
const hasLibvhdi = oracles("vhdiinfo", "pyvhdi");
const hasAll = hasQemu && hasLibvhdi;

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const dir = tempDir("vhdx-create-");
afterAll(() => dir.remove());
let fileCount = 0;
const newPath = (name: string) => dir.file(`${fileCount++}-${name}`);

/** A few windows of the disk: the start, both sides of the first block boundary, the 4 GiB mark, the end. */
function windows(size: number, blockSize: number): Array<[number, number]> {
  const spans: Array<[number, number]> = [
    [0, Math.min(size, MiB)],
    [Math.max(0, Math.min(blockSize, size) - 64 * KiB), 128 * KiB],
  ];
  if (size > 4 * GiB + MiB) spans.push([4 * GiB - 64 * KiB, 128 * KiB]);
  spans.push([Math.max(0, size - MiB), Math.min(size, MiB)]);
  return spans.map(([offset, length]) => [offset, Math.min(length, size - offset)]);
}

async function readFileRange(path: string, offset: number, length: number): Promise<Uint8Array> {
  const handle = await open(path, "r");
  try {
    const bytes = new Uint8Array(length);
    const { bytesRead } = await handle.read(bytes, 0, length, offset);
    expect(bytesRead, `${path} at ${offset}`).toBe(length);
    return bytes;
  } finally {
    await handle.close();
  }
}

const isZero = (bytes: Uint8Array) => bytes.every((b) => b === 0);

/** Byte equality with a short message (vitest's toEqual on megabytes of typed array exhausts the heap). */
function expectBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  if (Buffer.compare(actual, expected) === 0) return;
  let i = 0;
  while (actual[i] === expected[i]) i++;
  expect.fail(`${what}: first difference at ${i}: got ${actual[i]}, expected ${expected[i]}`);
}
const qemuInfo = (path: string) =>
  JSON.parse(run("qemu-img", ["info", "--output=json", "-f", "vhdx", path]).toString());

async function expectZeros(image: VhdxImage, spans: Array<[number, number]>) {
  for (const [offset, length] of spans)
    expect(isZero(await image.read(offset, length)), `zeros at ${offset}`).toBe(true);
}

describe.skipIf(!hasQemu)("created images, checked by QEMU and libvhdi (512-byte sectors)", () => {
  const cases = (["dynamic", "fixed"] as const).flatMap((type) =>
    [1, 2, 32, 256].flatMap((blockMiB) => {
      const blockSize = blockMiB * MiB;
      return [3 * blockSize + 7 * 512, 4 * GiB + blockSize + 512].map((size) => ({ type, blockSize, size }));
    }),
  );

  it.each(cases)(
    "$type, block $blockSize, size $size",
    async ({ type, blockSize, size }) => {
      const path = newPath(`${type}.vhdx`);
      const created = await createVhdx(path, { size, type, blockSize });
      expect([created.diskType, created.virtualSize, created.blockSize, created.readOnly]).toEqual([
        type,
        size,
        blockSize,
        false,
      ]);
      await created.close();

      expect(qemuCheck(path)).toMatch(/No errors were found/);
      const info = qemuInfo(path);
      expect([info.format, info["virtual-size"], info["cluster-size"]]).toEqual(["vhdx", size, blockSize]);
      const vhdi = vhdiinfoFields(path);
      expect([vhdi.mediaSize, vhdi.bytesPerSector, vhdi.diskType]).toEqual([size, 512, type]);

      const raw = `${path}.raw`;
      qemuConvertToRaw(path, raw);
      expect(statSync(raw).size).toBe(size);
      for (const [offset, length] of windows(size, blockSize)) {
        expect(isZero(await readFileRange(raw, offset, length)), `QEMU reads zeros at ${offset}`).toBe(true);
      }
      rmSync(raw);
      const image = await openVhdx(path);
      await expectZeros(image, windows(size, blockSize));
      await image.close();

      // QEMU writes into what we made, across the first block boundary and at the very end.
      const across = Math.min(blockSize, size - 8 * KiB) - 4 * KiB;
      qemuIo(path, [`write -P 0xab ${across} ${8 * KiB}`, `write -P 0xcd ${size - 3 * 512} ${3 * 512}`]);
      expect(qemuCheck(path)).toMatch(/No errors were found/);
      const written = await openVhdx(path);
      const around = await written.read(across - 512, 8 * KiB + 1024);
      expect(around.subarray(0, 512).every((b) => b === 0)).toBe(true);
      expect(around.subarray(512, 512 + 8 * KiB).every((b) => b === 0xab)).toBe(true);
      expect(around.subarray(512 + 8 * KiB).every((b) => b === 0)).toBe(true);
      const end = await written.read(size - 4 * 512, 4 * 512);
      expect([...end.subarray(0, 512)].every((b) => b === 0) && end.subarray(512).every((b) => b === 0xcd)).toBe(true);
      await written.close();
      rmSync(path);
    },
    120_000,
  );
});

describe.skipIf(!hasLibvhdi)("4096-byte logical sectors, checked by libvhdi (QEMU 7.2 cannot open them)", () => {
  it.each([
    { type: "dynamic", blockSize: MiB, size: 5 * MiB + 3 * 4096 },
    { type: "fixed", blockSize: 32 * MiB, size: 40 * MiB + 4096 },
    { type: "dynamic", blockSize: 256 * MiB, size: 4 * GiB + 256 * MiB + 4096 },
  ] as const)("$type, block $blockSize, size $size", async ({ type, blockSize, size }) => {
    const path = newPath(`${type}-4k.vhdx`);
    await (await createVhdx(path, { size, type, blockSize, logicalSectorSize: 4096 })).close();
    const vhdi = vhdiinfoFields(path);
    expect([vhdi.mediaSize, vhdi.bytesPerSector, vhdi.diskType]).toEqual([size, 4096, type]);
    const spans = windows(size, blockSize);
    expect(isZero(pyvhdiRead(path, spans))).toBe(true);
    const image = await openVhdx(path);
    expect([image.logicalSectorSize, image.physicalSectorSize]).toEqual([4096, 4096]);
    await expectZeros(image, spans);
    await image.close();
  });
});

describe.skipIf(!hasAll)("differencing children of a QEMU-made parent", () => {
  const size = 20 * MiB + 3 * 512;
  const layouts = [
    {
      name: "a sibling folder",
      base: "base/base.vhdx",
      child: "child/child.vhdx",
      relative: "..\\base\\base.vhdx",
      outside: true,
    },
    {
      name: "the same folder",
      base: "same/base.vhdx",
      child: "same/child.vhdx",
      relative: "base.vhdx",
      outside: false,
    },
  ];

  it.each(layouts)("parent in $name", async ({ base, child, relative, outside }) => {
    const root = newPath("chain");
    const basePath = join(root, base);
    const childPath = join(root, child);
    mkdirSync(join(basePath, ".."), { recursive: true });
    mkdirSync(join(childPath, ".."), { recursive: true });
    qemuCreate(basePath, { size, subformat: "dynamic", blockSize: 2 * MiB });
    qemuIo(basePath, ["write -P 0x11 0 3M", "write -P 0x22 5000192 1234944", `write -P 0x33 ${size - 4096} 4096`]);
    qemuConvertToRaw(basePath, `${basePath}.raw`);
    const expected = new Uint8Array(readFileSync(`${basePath}.raw`));
    const baseGuid = vhdiinfoFields(basePath).identifier;

    const created = await createVhdx(childPath, { type: "differencing", parent: basePath });
    expect(created.diskType).toBe("differencing");
    expect(created.parentLocator).toEqual({
      parent_linkage: `{${baseGuid}}`,
      relative_path: relative,
      absolute_win32_path: resolve(basePath),
    });
    expectBytes(await created.read(0, size), expected, "the returned image");
    await created.close();

    if (outside) await expect(openVhdx(childPath)).rejects.toMatchObject({ code: "PARENT_NOT_FOUND" });
    const image = await openVhdx(childPath, { allowParentOutsideTree: outside });
    expect([image.virtualSize, image.blockSize, image.logicalSectorSize, image.parent?.dataWriteGuid]).toEqual([
      size,
      MiB,
      512,
      baseGuid,
    ]);
    expectBytes(await image.read(0, size), expected, "openVhdx(child)");
    await image.close();

    const vhdi = vhdiinfoFields(childPath);
    expect([vhdi.diskType, vhdi.parentIdentifier, vhdi.mediaSize]).toEqual(["differencing", baseGuid, size]);
    // libvhdi reads a NOT_PRESENT sector bitmap from file offset 0 (VHDX-NOTES, "Where the oracles are
    // wrong"): block b takes its bits from file bytes [b * 256, (b + 1) * 256) with 1 MiB blocks. Past the
    // 520-byte file identifier those bytes are zero (all from the parent), so blocks 3 on read right.
    const from = 3 * MiB;
    expectBytes(pyvhdiRead(childPath, [[from, size - from]], [basePath]), expected.subarray(from), "pyvhdi");
  });

  it("takes an opened parent image, and leaves it open", async () => {
    const basePath = newPath("base.vhdx");
    qemuCreate(basePath, { size, subformat: "fixed", blockSize: MiB });
    qemuIo(basePath, ["write -P 0x5a 1M 1M"]);
    const parent = await openVhdx(basePath);
    const child = await createVhdx(newPath("child.vhdx"), { type: "differencing", parent, physicalSectorSize: 512 });
    expect([child.parent, child.physicalSectorSize, child.virtualDiskId]).toEqual([parent, 512, parent.virtualDiskId]);
    expect((await child.read(MiB - 1, 3)).join()).toBe("0,90,90");
    await child.close();
    expect((await parent.read(MiB, 1))[0]).toBe(0x5a);
    await parent.close();
  });
});

describe("the layout on disk", () => {
  async function createdFile(options: Parameters<typeof createVhdx>[1]) {
    const path = newPath("layout.vhdx");
    await (await createVhdx(path, options)).close();
    return { path, bytes: await readFileRange(path, 0, 4 * MiB), fileSize: statSync(path).size };
  }

  it("writes the header section, region table and metadata as Windows does", async () => {
    const { path, bytes, fileSize } = await createdFile({
      size: 100 * MiB,
      virtualDiskId: "01234567-89ab-cdef-0123-456789abcdef",
    });
    expect(decodeFileIdentifier(bytes)).toMatchObject({ signature: "vhdxfile", creator: "@vhdx/image" });
    const [h1, h2] = [decodeHeader(bytes, 64 * KiB), decodeHeader(bytes, 128 * KiB)];
    expect(verifyHeaderChecksum(bytes, 64 * KiB) && verifyHeaderChecksum(bytes, 128 * KiB)).toBe(true);
    expect({ ...h1, checksum: 0, sequenceNumber: 0n }).toEqual({ ...h2, checksum: 0, sequenceNumber: 0n });
    expect([
      h1.sequenceNumber,
      h2.sequenceNumber,
      h1.logGuid,
      h1.logVersion,
      h1.version,
      h1.logOffset,
      h1.logLength,
    ]).toEqual([1n, 2n, "00000000-0000-0000-0000-000000000000", 0, 1, MiB, MiB]);
    expect(h1.fileWriteGuid).not.toBe(h1.dataWriteGuid);
    expectBytes(bytes.subarray(192 * KiB, 256 * KiB), bytes.subarray(256 * KiB, 320 * KiB), "region table copies");
    expect(verifyRegionTableChecksum(bytes, 192 * KiB)).toBe(true);
    expect(
      decodeRegionTable(bytes, 192 * KiB).entries.map(({ guid, fileOffset, length, required }) => ({
        guid,
        fileOffset,
        length,
        required,
      })),
    ).toEqual([
      { guid: BAT_REGION_GUID, fileOffset: 3 * MiB, length: MiB, required: true },
      { guid: METADATA_REGION_GUID, fileOffset: 2 * MiB, length: MiB, required: true },
    ]);
    const table = decodeMetadataTable(bytes, 2 * MiB);
    const flags = table.entries.map((e) => [
      e.isUser,
      e.isVirtualDisk,
      e.isRequired,
      e.offset % 4096,
      e.offset >= 64 * KiB,
    ]);
    expect(flags).toEqual([[false, false, true, 0, true], ...Array(4).fill([false, true, true, 0, true])]);
    expect(isZero(bytes.subarray(MiB, 2 * MiB)) && isZero(bytes.subarray(3 * MiB, 4 * MiB))).toBe(true);
    expect(fileSize).toBe(4 * MiB);
    const image = await openVhdx(path);
    expect(image.virtualDiskId).toBe("01234567-89ab-cdef-0123-456789abcdef");
    await image.close();
  });

  it("allocates every payload block of a fixed disk in order after the BAT, skipping sector bitmap entries", async () => {
    // 256 MiB blocks and 512-byte sectors: 16 blocks per chunk, so entry 16 is a sector bitmap entry.
    const size = 17 * 256 * MiB + 512;
    const { bytes, fileSize } = await createdFile({ size, type: "fixed", blockSize: 256 * MiB });
    const fileParameters = findMetadataEntry(decodeMetadataTable(bytes, 2 * MiB), FILE_PARAMETERS_GUID)!;
    expect(bytes[2 * MiB + fileParameters.offset + 4]).toBe(1);
    const view = new DataView(bytes.buffer, bytes.byteOffset + 3 * MiB);
    const entries = Array.from(
      { length: 20 },
      (_, i) => view.getUint32(i * 8, true) + view.getUint32(i * 8 + 4, true) * 2 ** 32,
    );
    const payload = (block: number) => (4 + block * 256) * 2 ** 20 + 6;
    expect(entries).toEqual([...Array.from({ length: 16 }, (_, b) => payload(b)), 0, payload(16), payload(17), 0]);
    expect(fileSize).toBe(4 * MiB + 18 * 256 * MiB);
  });

  it("marks a differencing disk HasParent with a required, non-IsVirtualDisk parent locator", async () => {
    const basePath = newPath("base.vhdx");
    await (await createVhdx(basePath, { size: 8 * MiB, physicalSectorSize: 512 })).close();
    const { bytes } = await createdFile({ type: "differencing", parent: basePath });
    const table = decodeMetadataTable(bytes, 2 * MiB);
    expect(bytes[2 * MiB + findMetadataEntry(table, FILE_PARAMETERS_GUID)!.offset + 4]).toBe(2);
    expect(findMetadataEntry(table, PARENT_LOCATOR_GUID)).toMatchObject({
      isUser: false,
      isVirtualDisk: false,
      isRequired: true,
    });
    expect(table.entries).toHaveLength(6);
  });
});

describe("in memory (no Node APIs in src/create)", () => {
  it("creates dynamic and fixed images in a MemorySource", async () => {
    for (const type of ["dynamic", "fixed"] as const) {
      const source = new MemorySource();
      const image = await createImage(source, { size: 3 * MiB + 512, type, blockSize: MiB, creator: "test" });
      expect([image.diskType, image.creator, image.physicalSectorSize, image.readOnly]).toEqual([
        type,
        "test",
        4096,
        false,
      ]);
      expect((await source.size()) === (type === "fixed" ? 8 * MiB : 4 * MiB)).toBe(true);
      expect(isZero(await image.read(0, 3 * MiB + 512))).toBe(true);
      const reopened = await openImage(new MemorySource(source.bytes().slice()));
      expect(reopened.dataWriteGuid).toBe(image.dataWriteGuid);
    }
  });

  it("accepts the 64 TiB limit", async () => {
    const image = await createImage(new MemorySource(), { size: 64 * 2 ** 40 });
    expect([image.virtualSize, image.geometry.batEntryCount]).toEqual([64 * 2 ** 40, 2 ** 21 + 2 ** 21 / 128 - 1]);
    expect(isZero(await image.read(64 * 2 ** 40 - MiB, MiB))).toBe(true);
  });

  it("creates a differencing child that reads its parent and carries its virtual-disk items", async () => {
    const userItem = {
      itemId: "11111111-2222-3333-4444-555555555555",
      isUser: true,
      isRequired: false,
      isVirtualDisk: true,
      data: patternBlock(100, 7),
    };
    const fileItem = {
      itemId: "66666666-2222-3333-4444-555555555555",
      isUser: true,
      isRequired: false,
      isVirtualDisk: false,
      data: patternBlock(10, 8),
    };
    const fixture = buildVhdx({
      type: "dynamic",
      virtualSize: 6 * MiB,
      blockSize: 2 * MiB,
      logicalSectorSize: 4096,
      blocks: { 1: { state: STATE.FULLY_PRESENT } },
      extraItems: [userItem, fileItem],
    });
    const parent = await openImage(new MemorySource(fixture.bytes));
    const child = await createImage(new MemorySource(), {
      type: "differencing",
      parent,
      parentLocator: { relative_path: "base.vhdx" },
    });
    expect([child.logicalSectorSize, child.virtualSize, child.blockSize, child.virtualDiskId]).toEqual([
      4096,
      6 * MiB,
      MiB,
      fixture.virtualDiskId,
    ]);
    expectBytes(await child.read(0, 6 * MiB), fixture.expected, "child");
    const inherited = child.metadata.table.entries.filter((e) => e.isUser);
    expect(inherited.map((e) => e.itemId)).toEqual([userItem.itemId]);
    const stored = new Uint8Array(100);
    await child.source.read(stored, child.metadata.regionOffset + inherited[0]!.offset);
    expectBytes(stored, userItem.data, "inherited item");
  });
});

describe("refusals", () => {
  const refuse = (options: object) =>
    expect(createImage(new MemorySource(), options as never)).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });

  it("refuses bad values with INVALID_ARGUMENT", async () => {
    const parent = await createImage(new MemorySource(), { size: 4 * MiB });
    for (const options of [
      {},
      { size: 0 },
      { size: -512 },
      { size: 1000 },
      { size: 1.5 },
      { size: Number.NaN },
      { size: 4096 + 512, logicalSectorSize: 4096 },
      { size: 64 * 2 ** 40 + 512 },
      { size: MiB, blockSize: 3 * MiB },
      { size: MiB, blockSize: 512 * KiB },
      { size: MiB, blockSize: 512 * MiB },
      { size: MiB, logicalSectorSize: 1024 },
      { size: MiB, physicalSectorSize: 2048 },
      { size: MiB, type: "sparse" },
      { size: MiB, type: "differencing" },
      { size: MiB, parent },
      { size: MiB, type: "fixed", parent },
      { type: "differencing", parent, size: 8 * MiB, parentLocator: { relative_path: "p.vhdx" } },
      { type: "differencing", parent, logicalSectorSize: 4096, parentLocator: { relative_path: "p.vhdx" } },
      { type: "differencing", parent },
      { type: "differencing", parent, parentLocator: { parent_linkage2: "{01234567-89ab-cdef-0123-456789abcdef}" } },
      { type: "differencing", parent, parentLocator: { relative_path: "" } },
      { type: "differencing", parent, parentLocator: { relative_path: "a\0b" } },
      {
        type: "differencing",
        parent,
        parentLocator: { relative_path: "x", parent_linkage: "{01234567-89ab-cdef-0123-456789abcdef}" },
      },
      { size: MiB, parentLocator: { relative_path: "x" } },
      { size: MiB, virtualDiskId: "not-a-guid" },
      { size: MiB, creator: "x".repeat(257) },
    ]) {
      await refuse(options);
    }
    await expect(createImage(new MemorySource(new Uint8Array(1)), { size: MiB })).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
    });
    await expect(
      createImage(new MemorySource(new Uint8Array(0), { readOnly: true }), { size: MiB }),
    ).rejects.toMatchObject({ code: "READ_ONLY" });
  });

  it("refuses wrong types with TypeError", async () => {
    for (const options of [
      null,
      "big",
      { size: "1M" },
      { size: MiB, type: 1 },
      { size: MiB, blockSize: "1M" },
      { size: MiB, parent: "base.vhdx" },
      { size: MiB, creator: 5 },
      { size: MiB, virtualDiskId: 5 },
    ]) {
      await expect(createImage(new MemorySource(), options as never)).rejects.toThrow(TypeError);
    }
    await expect(createImage({} as never, { size: MiB })).rejects.toThrow(TypeError);
    await expect(createVhdx(newPath("t.vhdx"), { size: MiB, parent: 5 as never })).rejects.toThrow(TypeError);
  });

  it("createVhdx refuses to overwrite, and leaves no file behind when the options are bad", async () => {
    const path = newPath("exists.vhdx");
    writeFileSync(path, "keep");
    await expect(createVhdx(path, { size: MiB })).rejects.toMatchObject({ code: "IO_ERROR" });
    expect(readFileSync(path, "utf8")).toBe("keep");
    const bad = newPath("bad.vhdx");
    await expect(createVhdx(bad, { size: 1000 })).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    await expect(createVhdx(bad, { size: MiB, parent: path })).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    await expect(createVhdx(bad, { type: "differencing", parent: newPath("missing.vhdx") })).rejects.toMatchObject({
      code: "IO_ERROR",
    });
    const inMemory = await createImage(new MemorySource(), { size: MiB });
    await expect(createVhdx(bad, { type: "differencing", parent: inMemory })).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
    });
    expect(existsSync(bad)).toBe(false);
    expect(VhdxError.isInstance(await createVhdx(bad, { type: "differencing" }).catch((e) => e))).toBe(true);
  });
});

describe("parent locator paths", () => {
  it("writes relative_path with backslashes, and absolute_win32_path as the host names the parent", () => {
    expect(parentLocatorPaths("/vms/child/c.vhdx", "/vms/base/b.vhdx", "linux")).toEqual({
      relative_path: "..\\base\\b.vhdx",
      absolute_win32_path: "/vms/base/b.vhdx",
    });
    expect(parentLocatorPaths("/vms/c.vhdx", "/vms/b.vhdx", "darwin")).toEqual({
      relative_path: "b.vhdx",
      absolute_win32_path: "/vms/b.vhdx",
    });
    expect(parentLocatorPaths("/home/me/c.vhdx", "/mnt/d/Hyper-V/b.vhdx", "linux")).toEqual({
      relative_path: "..\\..\\mnt\\d\\Hyper-V\\b.vhdx",
      absolute_win32_path: "\\\\?\\D:\\Hyper-V\\b.vhdx",
    });
    expect(parentLocatorPaths("C:\\vms\\child\\c.vhdx", "C:\\vms\\base\\b.vhdx", "win32")).toEqual({
      relative_path: "..\\base\\b.vhdx",
      absolute_win32_path: "\\\\?\\C:\\vms\\base\\b.vhdx",
    });
    expect(parentLocatorPaths("C:\\vms\\c.vhdx", "D:\\b.vhdx", "win32")).toEqual({
      absolute_win32_path: "\\\\?\\D:\\b.vhdx",
    });
    expect(() => parentLocatorPaths("/vms/c.vhdx", "/vms/a\\b.vhdx", "linux")).toThrow(VhdxError);
  });
});
