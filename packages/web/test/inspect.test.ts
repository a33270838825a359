// The page shows what a disk is: picked files (one disk, a differencing chain
// picked in one go, a 64 TiB disk, a disk with a GPT inside) and a URL, same
// origin and across origins; tab order; and no request but the page's own and
// the URLs pasted.
import { writeFileSync } from "node:fs";
import { createVhdx, openVhdx } from "@vhdx/image/node";
import { startRangeServer, type RangeServer } from "@vhdx-tools/browser";
import { type TempDir, oracles, qemuCreate, qemuIo, run, tempDir } from "@vhdx-tools/oracles";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type PageSession, diskShown, foreignRequests, startPageSession } from "./session.js";

const MiB = 2 ** 20;
const TiB = 2 ** 40;
const ready = oracles("chromium", "qemu-img", "qemu-io", "sfdisk");

describe.skipIf(!ready)("inspecting disks in the page", () => {
  let dir: TempDir;
  let session: PageSession;
  let otherOrigin: RangeServer;

  beforeAll(async () => {
    dir = tempDir("vhdx-web-");
    qemuCreate(dir.file("dynamic.vhdx"), { size: 64 * MiB, subformat: "dynamic", blockSize: MiB });
    // QEMU marks the blocks it never wrote ZERO (block_state_zero).
    qemuIo(dir.file("dynamic.vhdx"), ["write -P 0xab 0 2M", "write -P 0xcd 40M 1M"]);
    await makeChain(dir);
    await makeHugeDisk(dir.file("huge.vhdx"));
    makeGptDisk(dir);
    session = await startPageSession({ "/disks/dynamic.vhdx": dir.file("dynamic.vhdx") });
    otherOrigin = await startRangeServer({ cors: "full", files: { "/dynamic.vhdx": dir.file("dynamic.vhdx") } });
  }, 180_000);

  afterAll(async () => {
    await session?.close();
    await otherOrigin?.close();
    dir?.remove();
  });

  test("a dynamic VHDX picked with the file picker: what vhdx info shows, no findings, one cell per block", async () => {
    const page = await session.open();
    await page.locator("#files").setInputFiles(dir.file("dynamic.vhdx"));
    const disk = await diskShown(page, "dynamic.vhdx");
    expect(await disk.locator('[data-field="type"]').textContent()).toBe("dynamic");
    expect(await disk.locator('[data-field="virtual-size"]').textContent()).toBe("64 MiB (67108864 bytes)");
    expect(await disk.locator('[data-field="block-size"]').textContent()).toBe("1 MiB");
    expect(await disk.locator('[data-field="sector-size"]').textContent()).toBe("512 logical, 512 physical");
    expect(await disk.locator('[data-section="check"]').getAttribute("data-status")).toBe("done");
    expect(await disk.locator("[data-findings]").getAttribute("data-findings")).toBe("0");
    const canvas = disk.locator("canvas");
    expect(await canvas.getAttribute("data-cells")).toBe("64");
    expect(JSON.parse((await canvas.getAttribute("data-counts"))!)).toEqual({ "data-0": 3, zero: 61 });
    expect(await disk.locator('[data-section="partitions"] [data-scheme]').getAttribute("data-scheme")).toBe("none");
    expect(page.errors).toEqual([]);
  });

  test("a differencing disk and its parent picked in one go show as one chain of two layers", async () => {
    const page = await session.open();
    // The parent first: the page must find the leaf by linkage, not by order.
    await page.locator("#files").setInputFiles([dir.file("base.vhdx"), dir.file("child.vhdx")]);
    const disk = await diskShown(page, "child.vhdx");
    expect(await page.locator("article.disk").count()).toBe(1);
    expect(await disk.locator('[data-field="type"]').textContent()).toBe("differencing");
    expect(await disk.locator("[data-layers]").getAttribute("data-layers")).toBe("2");
    expect(await disk.locator("[data-layers] tbody tr:nth-child(2) td:nth-child(2)").textContent()).toBe("base.vhdx");
    expect(await disk.locator("[data-findings]").getAttribute("data-findings")).toBe("0");
    const counts = JSON.parse((await disk.locator("canvas").getAttribute("data-counts"))!);
    // Block 2 is the child's; blocks 0, 1 and 3 come from the parent; the rest QEMU marked ZERO there.
    expect(counts).toEqual({ "data-0": 1, "data-1": 3, zero: 12 });
    expect(await disk.locator('.legend [data-state="data-1"]').textContent()).toContain("base.vhdx");
  });

  test("a 64 TiB dynamic disk is drawn from a walk of its extents, summarised into 4096 cells", async () => {
    const page = await session.open();
    const started = performance.now();
    await page.locator("#files").setInputFiles(dir.file("huge.vhdx"));
    const disk = await diskShown(page, "huge.vhdx");
    console.log(
      `64 TiB disk: info, check, allocation and partitions shown in ${Math.round(performance.now() - started)} ms`,
    );
    expect(await disk.locator('[data-field="virtual-size"]').textContent()).toBe("64 TiB (70368744177664 bytes)");
    const canvas = disk.locator("canvas");
    expect(await disk.locator('[data-section="allocation"]').getAttribute("data-status")).toBe("done");
    expect(await canvas.getAttribute("data-cells")).toBe("4096");
    const counts = JSON.parse((await canvas.getAttribute("data-counts"))!);
    expect(counts).toEqual({ "data-0": 3, unallocated: 4096 });
    expect(await disk.locator("figcaption").textContent()).toContain("4096 cells of 512 blocks (16 GiB) each");
  });

  test("the GPT inside a disk: each partition's type, name, start and size", async () => {
    const page = await session.open();
    await page.locator("#files").setInputFiles(dir.file("gpt.vhdx"));
    const disk = await diskShown(page, "gpt.vhdx");
    const table = disk.locator('[data-scheme="gpt"]');
    expect(await table.getAttribute("data-partitions")).toBe("2");
    const rows = await table.locator("tbody tr").allTextContents();
    expect(rows[0]).toContain("EFI System");
    expect(rows[0]).toContain("c12a7328-f81f-11d2-ba4b-00a0c93ec93b");
    expect(rows[0]).toContain("esp");
    expect(rows[0]).toContain("1 MiB (1048576 bytes)");
    expect(rows[0]).toContain("8 MiB");
    expect(rows[1]).toContain("root");
    expect(rows[1]).toContain("9 MiB (9437184 bytes)");
    expect(rows[1]).toContain("40 MiB");
  });

  test("a URL on the page's own server and one on another origin with CORS", async () => {
    const page = await session.open();
    for (const url of [session.site.url("/disks/dynamic.vhdx"), otherOrigin.url("/dynamic.vhdx")]) {
      await page.locator("#url").fill(url);
      await page.getByRole("button", { name: "Open URL" }).click();
      const disk = await diskShown(page, url);
      expect(await disk.locator('[data-field="virtual-size"]').textContent()).toBe("64 MiB (67108864 bytes)");
      expect(JSON.parse((await disk.locator("canvas").getAttribute("data-counts"))!)).toEqual({
        "data-0": 3,
        zero: 61,
      });
    }
    expect(otherOrigin.requests.length).toBeGreaterThan(0);
  });

  test("the keyboard reaches the pickers, the buttons and the allocation map, whose cells it walks", async () => {
    const page = await session.open();
    const focused = async () =>
      page.evaluate(() => {
        const element = document.activeElement!;
        return element.id || element.textContent?.trim() || element.tagName.toLowerCase();
      });
    const order: string[] = [];
    for (let i = 0; i < 4; i++) {
      await page.keyboard.press("Tab");
      order.push(await focused());
    }
    expect(order).toEqual(["files", "url", "Open URL", "raw"]);
    await page.locator("#files").setInputFiles(dir.file("dynamic.vhdx"));
    await diskShown(page, "dynamic.vhdx");
    const reached: string[] = [];
    for (let i = 0; i < 10 && !reached.includes("canvas"); i++) {
      await page.keyboard.press("Tab");
      reached.push(await focused());
    }
    expect(reached).toContain("Save as raw");
    expect(reached).toContain("canvas");
    const readout = page.locator(".cell-readout");
    expect(await readout.textContent()).toContain("Cell 0, block 0: 0x0-0x100000");
    await page.keyboard.press("ArrowRight");
    expect(await readout.textContent()).toMatch(/^Cell 1, block 1: .*data in this disk \(dynamic.vhdx\) 100%/);
    await page.keyboard.press("End");
    expect(await readout.textContent()).toContain("Cell 63, block 63");
  });

  test("the page asked for nothing but its own files and the URLs pasted", () => {
    expect(session.requests.length).toBeGreaterThan(0);
    expect(foreignRequests(session, [otherOrigin.origin])).toEqual([]);
  });
});

/** base.vhdx (QEMU, data in blocks 0, 1 and 3) and child.vhdx (ours, its own data in block 2). */
async function makeChain(dir: TempDir): Promise<void> {
  qemuCreate(dir.file("base.vhdx"), { size: 16 * MiB, subformat: "dynamic", blockSize: MiB });
  qemuIo(dir.file("base.vhdx"), ["write -P 0xaa 0 2M", "write -P 0xbb 3M 1M"]);
  const base = await openVhdx(dir.file("base.vhdx"));
  const child = await createVhdx(dir.file("child.vhdx"), { type: "differencing", parent: base });
  await child.write(2 * MiB, new Uint8Array(MiB).fill(0x11));
  await child.close();
  await base.close();
}

/** 64 TiB with 32 MiB blocks: 2 Mi blocks, three of them written. The file is sparse. */
async function makeHugeDisk(path: string): Promise<void> {
  const image = await createVhdx(path, { size: 64 * TiB });
  const data = new Uint8Array(4096).fill(0x5a);
  for (const offset of [0, 32 * TiB, 64 * TiB - 4096]) await image.write(offset, data);
  await image.close();
}

/** A 64 MiB raw disk partitioned by sfdisk (GPT: an 8 MiB ESP at 1 MiB, a 40 MiB Linux root), converted by QEMU. */
function makeGptDisk(dir: TempDir): void {
  writeFileSync(dir.file("gpt.raw"), new Uint8Array(0));
  run("truncate", ["-s", "64M", dir.file("gpt.raw")]);
  const script = [
    "label: gpt",
    'start=2048, size=16384, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="esp"',
    'start=18432, size=81920, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="root"',
    "",
  ].join("\n");
  run("sfdisk", ["-q", dir.file("gpt.raw")], { input: script });
  run("qemu-img", ["convert", "-f", "raw", "-O", "vhdx", dir.file("gpt.raw"), dir.file("gpt.vhdx")]);
}
