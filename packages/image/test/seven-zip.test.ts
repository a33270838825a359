// 7-Zip (`7zz`) as a third reader beside libvhdi for what QEMU 7.2 refuses:
// differencing chains and 4 KiB logical sectors. Our writer's chains, with
// parents in other folders, and the generator's chains with every state a
// differencing disk can hold (ZERO included, which libvhdi misreads) must read
// in 7-Zip as in our reader and the model, and `7zz t` must find nothing.
// 7-Zip refuses a disk of an odd number of sectors (see @vhdx/conformance's
// known differences), so every size here is an even number of sectors.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { STATE, buildVhdx } from "@vhdx-tools/fixtures";
import { oracle, sevenZipChainPath, sevenZipRead, sevenZipTest } from "@vhdx-tools/oracles";
import { afterEach, describe, expect, it } from "vitest";
import type { VhdxImage } from "../src/index.js";
import { createVhdx, openVhdx } from "../src/node/index.js";

const MiB = 1 << 20;
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "vhdx-7zz-"));
  dirs.push(dir);
  return dir;
}

/** 7-Zip's test and read of the image at `path` (parents nearest first), shown the chain as its locators name it. */
function sevenZip(path: string, parents: string[], size: number): Uint8Array {
  const shown = sevenZipChainPath(path, parents, tempDir());
  expect(sevenZipTest(shown)).toEqual({ ok: true, problems: [], levels: parents.length + 1 });
  return sevenZipRead(shown, size);
}

async function readAll(path: string): Promise<Uint8Array> {
  const image = await openVhdx(path, { allowParentOutsideTree: true });
  try {
    return await image.read(0, image.virtualSize);
  } finally {
    await image.close();
  }
}

/** Bytes `fill` at [offset, offset + length), written through `image` and into `model`. */
async function write(image: VhdxImage, model: Uint8Array, offset: number, length: number, fill: number) {
  const bytes = new Uint8Array(length).fill(fill);
  await image.write(offset, bytes);
  model.set(bytes, offset);
}

describe.skipIf(!oracle("7zz"))("7-Zip's reads", () => {
  it.each([512, 4096] as const)(
    "reads our writer's chain of three, parents in other folders, as we do (%i-byte sectors)",
    async (sectorSize) => {
      const dir = tempDir();
      for (const folder of ["base", "disks/mid"]) mkdirSync(join(dir, folder), { recursive: true });
      const size = 12 * MiB + 2 * sectorSize;
      const model = new Uint8Array(size);
      const paths = [join(dir, "base/base.vhdx"), join(dir, "disks/mid/mid.vhdx"), join(dir, "disks/top.vhdx")];
      const base = await createVhdx(paths[0]!, { size, blockSize: 2 * MiB, logicalSectorSize: sectorSize });
      await write(base, model, 0, 3 * MiB, 0x11);
      await write(base, model, size - sectorSize, sectorSize, 0x12);
      await base.close();
      const mid = await createVhdx(paths[1]!, {
        type: "differencing",
        parent: paths[0]!,
        allowParentOutsideTree: true,
      });
      await write(mid, model, sectorSize, 3 * sectorSize, 0x21);
      await write(mid, model, 4 * MiB, MiB, 0x22);
      await mid.close();
      const top = await createVhdx(paths[2]!, {
        type: "differencing",
        parent: paths[1]!,
        allowParentOutsideTree: true,
      });
      await write(top, model, 2 * sectorSize, sectorSize, 0x31);
      await write(top, model, 4 * MiB + 7 * sectorSize, 2 * sectorSize, 0x32);
      await top.writeZeroes(4 * MiB + 8 * sectorSize, 3 * sectorSize);
      model.fill(0, 4 * MiB + 8 * sectorSize, 4 * MiB + 11 * sectorSize);
      await top.close();
      const ours = await readAll(paths[2]!);
      expect(Buffer.compare(ours, model)).toBe(0);
      expect(Buffer.compare(sevenZip(paths[2]!, [paths[1]!, paths[0]!], size), model)).toBe(0);
    },
  );

  it("finds a parent in the child's own folder by itself", async () => {
    const dir = tempDir();
    const size = 4 * MiB;
    const model = new Uint8Array(size);
    const base = await createVhdx(join(dir, "base.vhdx"), { size, blockSize: MiB });
    await write(base, model, 0, MiB, 0x41);
    await base.close();
    const child = await createVhdx(join(dir, "child.vhdx"), { type: "differencing", parent: join(dir, "base.vhdx") });
    await write(child, model, 512, 512, 0x42);
    await child.close();
    expect(sevenZipChainPath(join(dir, "child.vhdx"), [join(dir, "base.vhdx")], tempDir())).toBe(
      join(dir, "child.vhdx"),
    );
    expect(Buffer.compare(sevenZip(join(dir, "child.vhdx"), [join(dir, "base.vhdx")], size), model)).toBe(0);
  });

  it.each([512, 4096] as const)(
    "reads a generated chain with ZERO, UNMAPPED, UNDEFINED and partially present blocks as the model (%i-byte sectors)",
    async (sectorSize) => {
      const dir = tempDir();
      const common = { virtualSize: 6 * MiB + 2 * sectorSize, blockSize: MiB, logicalSectorSize: sectorSize } as const;
      const full = Object.fromEntries([0, 1, 2, 3, 4, 5, 6].map((block) => [block, { state: STATE.FULLY_PRESENT }]));
      const base = buildVhdx({ ...common, type: "dynamic", blocks: full });
      const child = buildVhdx(
        {
          ...common,
          type: "differencing",
          parent: { dataWriteGuid: base.dataWriteGuid, paths: { relative_path: "base.vhdx" } },
          blocks: {
            0: { state: STATE.ZERO },
            1: { state: STATE.UNMAPPED },
            2: { state: STATE.UNDEFINED },
            3: { state: STATE.PARTIALLY_PRESENT, presentSectors: (s) => s % 5 < 2 },
            6: { state: STATE.PARTIALLY_PRESENT, presentSectors: (s) => s === 1 },
          },
        },
        base,
      );
      writeFileSync(join(dir, "base.vhdx"), base.bytes);
      writeFileSync(join(dir, "child.vhdx"), child.bytes);
      const sevenZips = sevenZip(join(dir, "child.vhdx"), [join(dir, "base.vhdx")], common.virtualSize);
      expect(Buffer.compare(sevenZips, child.expected)).toBe(0);
      expect(Buffer.compare(await readAll(join(dir, "child.vhdx")), child.expected)).toBe(0);
    },
  );

  it.each([
    { type: "fixed", sectorSize: 4096, blockSize: MiB },
    { type: "dynamic", sectorSize: 4096, blockSize: 8 * MiB },
    { type: "dynamic", sectorSize: 512, blockSize: 32 * MiB },
  ] as const)("reads our $type image of $sectorSize-byte sectors and $blockSize-byte blocks", async (shape) => {
    const dir = tempDir();
    const size = 18 * MiB + 2 * shape.sectorSize;
    const model = new Uint8Array(size);
    const path = join(dir, "disk.vhdx");
    const image = await createVhdx(path, {
      size,
      type: shape.type,
      blockSize: shape.blockSize,
      logicalSectorSize: shape.sectorSize,
    });
    await write(image, model, shape.sectorSize + 100, 3 * shape.sectorSize, 0x51);
    await write(image, model, 9 * MiB - 10, 2 * MiB, 0x52);
    await write(image, model, size - 3 * shape.sectorSize, 3 * shape.sectorSize, 0x53);
    await image.writeZeroes(9 * MiB, MiB);
    model.fill(0, 9 * MiB, 10 * MiB);
    await image.close();
    expect(Buffer.compare(sevenZip(path, [], size), model)).toBe(0);
  });
});
