// A new Virtual Disk ID and physical sector size (Set-VHD): read back by us
// and by 7-Zip, accepted by qemu-img, the data and the children's linkage
// untouched; sizes the spec does not allow are refused.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { oracle } from "@vhdx-tools/oracles";
import { guidToBytes } from "@vhdx/guid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemorySource, createImage, openImage, setDiskProperties } from "../src/index.js";
import { createVhdx, openVhdx, setVhdxProperties } from "../src/node/index.js";

const MiB = 1 << 20;
const hasQemu = oracle("qemu-img");
const has7zz = oracle("7zz");
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "vhdx-disk-properties-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** 7-Zip's listing of the image's own fields ("ID", "PhysicalSectorSize", ...). */
function sevenZipFields(path: string): Record<string, string> {
  const listing = spawnSync("7zz", ["l", "-slt", "-bd", "--", path], { encoding: "utf8" }).stdout;
  const fields: Record<string, string> = {};
  for (const line of listing.split("\n")) {
    const pair = /^(\w+)(?::| =) (.*)$/.exec(line.trim());
    if (pair) fields[pair[1]!] ??= pair[2]!;
  }
  return fields;
}

describe.skipIf(!hasQemu)("on a file QEMU made", () => {
  it("resets the disk ID and sets 4 KiB physical sectors; qemu-img checks it, the data stays", async () => {
    const file = join(dir, "qemu.vhdx");
    execFileSync("qemu-img", ["create", "-q", "-f", "vhdx", "-o", "block_size=1M", file, "16M"]);
    execFileSync("qemu-io", ["-c", "write -P 0x44 1M 1M", file], { stdio: "ignore" });
    const before = await openVhdx(file);
    const { virtualDiskId, dataWriteGuid } = before;
    await before.close();

    const result = await setVhdxProperties(file, { resetDiskId: true, physicalSectorSize: 4096 });
    expect(result.virtualDiskId.old).toBe(virtualDiskId);
    expect(result.virtualDiskId.new).not.toBe(virtualDiskId);
    expect(result.physicalSectorSize).toEqual({ old: 512, new: 4096 });
    const after = await openVhdx(file);
    expect(after.virtualDiskId).toBe(result.virtualDiskId.new);
    expect(after.physicalSectorSize).toBe(4096);
    expect(after.dataWriteGuid).toBe(dataWriteGuid);
    expect((await after.read(MiB, MiB)).every((b) => b === 0x44)).toBe(true);
    await after.close();
    expect(execFileSync("qemu-img", ["check", file], { encoding: "utf8" })).toMatch(/No errors were found/);
    expect(JSON.parse(execFileSync("qemu-img", ["info", "--output=json", file], { encoding: "utf8" }))).toMatchObject({
      "virtual-size": 16 * MiB,
      format: "vhdx",
    });
    if (has7zz) {
      const fields = sevenZipFields(file);
      expect(fields.PhysicalSectorSize).toBe("4096");
      // 7-Zip prints the ID's 16 bytes as they lie in the file.
      expect(fields.ID).toBe(Buffer.from(guidToBytes(result.virtualDiskId.new)).toString("hex"));
    }
    // Back to 512, with nothing else changed.
    await setVhdxProperties(file, { physicalSectorSize: 512 });
    const last = await openVhdx(file);
    expect([last.physicalSectorSize, last.virtualDiskId]).toEqual([512, result.virtualDiskId.new]);
    await last.close();
  });
});

describe("children", () => {
  it("stay linked when their parent gets a new ID", async () => {
    const base = join(dir, "base.vhdx");
    const child = join(dir, "child.vhdx");
    await (await createVhdx(base, { size: 8 * MiB })).close();
    await (await createVhdx(child, { type: "differencing", parent: base })).close();
    await setVhdxProperties(base, { resetDiskId: true });
    const opened = await openVhdx(child);
    expect(opened.parent).not.toBeNull();
    await opened.close();
  });
});

describe("refusals", () => {
  it("refuses sizes other than 512 and 4096, and physical sectors smaller than logical ones", async () => {
    for (const [logicalSectorSize, physicalSectorSize] of [
      [512, 1024],
      [4096, 512],
    ] as const) {
      const source = new MemorySource();
      const image = await createImage(source, { size: 8 * MiB, logicalSectorSize });
      await expect(
        setDiskProperties(image, { physicalSectorSize: physicalSectorSize as 512 | 4096 }),
      ).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
      const reopened = await openImage(source);
      expect(reopened.physicalSectorSize).toBe(4096);
      await reopened.close();
    }
  });

  it("refuses a read-only image and an unknown option", async () => {
    const source = new MemorySource();
    await (await createImage(source, { size: 8 * MiB })).close();
    await expect(setDiskProperties(await openImage(source), { resetDiskId: true })).rejects.toMatchObject({
      code: "READ_ONLY",
    });
    await expect(
      setDiskProperties(await openImage(source, { readOnly: false }), { resetDiskID: true } as never),
    ).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
  });
});
