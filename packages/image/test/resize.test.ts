// vhdx resize at the library level: QEMU must accept the result, the data
// must stay, and a power cut anywhere must leave the old or the new size.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { STATE, buildVhdx } from "@vhdx-tools/fixtures";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemorySource, VhdxError, openImage, resizeImage } from "../src/index.js";
import { FaultInjectingSource } from "../src/testing/index.js";
import { createVhdx, openVhdx, resizeVhdx } from "../src/node/index.js";
import { oracle } from "@vhdx-tools/oracles";

const MiB = 1 << 20;
const GiB = 1024 * MiB;
const hasQemu = oracle("qemu-img");
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "vhdx-resize-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const qemuInfo = (file: string) =>
  JSON.parse(execFileSync("qemu-img", ["info", "--output=json", file], { encoding: "utf8" }));
const qemuCheck = (file: string) => execFileSync("qemu-img", ["check", file], { encoding: "utf8" });

describe.skipIf(!hasQemu)("resize, checked by QEMU", () => {
  function qemuImage(name: string, size: string, blockSize = "1M") {
    const file = join(dir, name);
    execFileSync("qemu-img", [
      "create",
      "-q",
      "-f",
      "vhdx",
      "-o",
      `subformat=dynamic,block_size=${blockSize}`,
      file,
      size,
    ]);
    execFileSync("qemu-io", ["-c", "write -P 0x61 0 3M", "-c", "write -P 0x62 100M 1M", file], { stdio: "ignore" });
    return file;
  }

  it.each([
    ["grows within the BAT region", "1G", 2 * GiB, false],
    ["grows past the BAT region, moving the BAT", "1G", 200 * GiB, true],
  ] as const)("%s", async (_name, size, newSize, moved) => {
    const file = qemuImage(`grow-${newSize}.vhdx`, size);
    const result = await resizeVhdx(file, newSize);
    expect(result).toEqual({ oldSize: GiB, newSize, batMoved: moved });
    expect(qemuCheck(file)).toMatch(/No errors were found/);
    expect(qemuInfo(file)["virtual-size"]).toBe(newSize);
    const image = await openVhdx(file);
    expect((await image.read(0, 3 * MiB)).every((b) => b === 0x61)).toBe(true);
    expect((await image.read(100 * MiB, MiB)).every((b) => b === 0x62)).toBe(true);
    expect((await image.read(newSize - 2 * MiB, 2 * MiB)).every((b) => b === 0)).toBe(true);
    await image.close();
    execFileSync("qemu-io", ["-c", `write -P 0x63 ${newSize - MiB} 64k`, file], { stdio: "ignore" });
    expect(
      execFileSync("qemu-io", ["-r", "-c", `read -P 0x63 ${newSize - MiB} 64k`, file], { encoding: "utf8" }),
    ).not.toMatch(/Pattern verification failed/);
  });

  it("grows a fixed disk with every new block allocated", async () => {
    const file = join(dir, "fixed.vhdx");
    const created = await createVhdx(file, { size: 8 * MiB, type: "fixed", blockSize: MiB });
    await created.write(MiB, new Uint8Array(MiB).fill(9));
    await created.close();
    await resizeVhdx(file, 20 * MiB);
    expect(qemuCheck(file)).toMatch(/No errors were found/);
    const image = await openVhdx(file);
    const table = await image.bat();
    for (let block = 0; block < 20; block++)
      expect(table.payloadState(block), `block ${block}`).toBe(STATE.FULLY_PRESENT);
    expect((await image.read(MiB, MiB)).every((b) => b === 9)).toBe(true);
    expect((await image.read(8 * MiB, 12 * MiB)).every((b) => b === 0)).toBe(true);
    await image.close();
  });

  it("shrinks only when nothing past the new end holds data, unless forced", async () => {
    const file = qemuImage("shrink.vhdx", "1G");
    const error = await resizeVhdx(file, 50 * MiB).catch((e: unknown) => e);
    expect(VhdxError.isInstance(error) && error.code).toBe("INVALID_ARGUMENT");
    expect(qemuInfo(file)["virtual-size"]).toBe(GiB);
    await resizeVhdx(file, 200 * MiB);
    expect(qemuInfo(file)["virtual-size"]).toBe(200 * MiB);
    await resizeVhdx(file, 2 * MiB + 512, { force: true });
    expect(qemuCheck(file)).toMatch(/No errors were found/);
    const image = await openVhdx(file);
    expect(image.virtualSize).toBe(2 * MiB + 512);
    expect((await image.read(0, 2 * MiB + 512)).every((b) => b === 0x61)).toBe(true);
    await image.close();
    await resizeVhdx(file, 4 * MiB);
    const grown = await openVhdx(file);
    expect((await grown.read(2 * MiB + 512, 2 * MiB - 512)).every((b) => b === 0)).toBe(true);
    await grown.close();
  });
});

describe("resize refusals", () => {
  it("refuses a differencing disk, a bad size and a read-only image", async () => {
    const parent = buildVhdx({ virtualSize: 4 * MiB, blockSize: MiB, type: "dynamic" });
    const child = buildVhdx(
      {
        virtualSize: 4 * MiB,
        blockSize: MiB,
        type: "differencing",
        parent: { dataWriteGuid: parent.dataWriteGuid, paths: { relative_path: "p" } },
      },
      parent,
    );
    const diff = await openImage(new MemorySource(child.bytes.slice()), {
      readOnly: false,
      parents: [await openImage(new MemorySource(parent.bytes))],
    });
    await expect(resizeImage(diff, 8 * MiB)).rejects.toMatchObject({ code: "UNSUPPORTED" });
    const dynamic = () => openImage(new MemorySource(parent.bytes.slice()), { readOnly: false });
    await expect(resizeImage(await dynamic(), 8 * MiB + 1)).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    await expect(resizeImage(await dynamic(), 65 * 1024 * GiB)).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    await expect(resizeImage(await openImage(new MemorySource(parent.bytes)), 8 * MiB)).rejects.toMatchObject({
      code: "READ_ONLY",
    });
  });
});

describe("power cuts during a resize", () => {
  it.each([
    ["grow in place", 64 * MiB],
    ["grow with a BAT move", 130 * GiB],
    ["shrink", 2 * MiB],
  ])(
    "leave the old or the new size, with the data, at every cut point: %s",
    async (_name, newSize) => {
      const fixture = buildVhdx({
        virtualSize: 8 * MiB,
        blockSize: MiB,
        type: "dynamic",
        blocks: { 0: { state: STATE.FULLY_PRESENT }, 1: { state: STATE.FULLY_PRESENT } },
      });
      const before = fixture.expectedAt(0, 2 * MiB);
      const counter = new FaultInjectingSource(fixture.bytes);
      await resizeImage(await openImage(counter, { readOnly: false }), newSize);
      expect(counter.operations).toBeGreaterThan(4);
      for (let cut = 0; cut <= counter.operations; cut++) {
        await turnOfEventLoop();
        const source = new FaultInjectingSource(fixture.bytes, { cutAfterOperations: cut, seed: cut });
        await resizeImage(await openImage(source, { readOnly: false }), newSize).catch((e: unknown) => {
          if (!(VhdxError.isInstance(e) && e.code === "IO_ERROR")) throw e;
        });
        for (const mode of ["drop", "keep-random", "tear"] as const) {
          const image = await openImage(new MemorySource(await source.powerCut(mode)));
          const label = `cut ${cut}/${counter.operations} ${mode}`;
          expect([8 * MiB, newSize], label).toContain(image.virtualSize);
          expect(Buffer.compare(await image.read(0, 2 * MiB), before), label).toBe(0);
          const tail = Math.min(image.virtualSize, 8 * MiB) - 2 * MiB;
          expect(
            (await image.read(2 * MiB, tail)).every((b) => b === 0),
            label,
          ).toBe(true);
        }
      }
    },
    120_000,
  );
});

/** Lets vitest's RPC answers in: a loop over memory sources alone never leaves the microtask queue. */
function turnOfEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
