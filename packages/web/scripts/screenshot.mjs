// Takes docs/web-page.png, the root README's picture of the page: a GPT disk
// with data in a base image and in a differencing child, opened together, at
// 1280x900 in the Chromium of the tests. Rerun after a change to the page:
//   node packages/web/scripts/screenshot.mjs   (needs qemu-img, sfdisk, chromium)
import { execFileSync } from "node:child_process";
import { mkdtempSync, openSync, rmSync, writeSync, closeSync, ftruncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { launchChromium, startRangeServer } from "@vhdx-tools/browser";
import { createVhdx, openVhdx } from "@vhdx/image/node";
import { build } from "vite";

const MiB = 2 ** 20;
const root = fileURLToPath(new URL("..", import.meta.url));
const output = fileURLToPath(new URL("../../../docs/web-page.png", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "vhdx-web-shot-"));

try {
  await makeDisks();
  await build({ root, configFile: join(root, "vite.config.ts"), logLevel: "warn" });
  const site = await startRangeServer({ pages: await distPages() });
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(site.url("/index.html"));
    await page.locator("#files").setInputFiles([join(dir, "disk.vhdx"), join(dir, "disk-snapshot.avhdx")]);
    const disk = page.locator("article.disk");
    for (const section of ["properties", "check", "allocation", "partitions"]) {
      await disk.locator(`[data-section="${section}"]:not([data-status="working"])`).waitFor();
    }
    // Point at a cell the child wrote, so the readout shows what hovering does.
    const canvas = disk.locator("canvas");
    const box = await canvas.boundingBox();
    await page.mouse.move(box.x + 12 * 6 + 6, box.y + 12 + 6);
    await page.screenshot({ path: output });
    console.log(`wrote ${output}`);
  } finally {
    await browser.close();
    await site.close();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

/** disk.vhdx: 256 MiB, a GPT (EFI system, Linux root, swap), data here and there; disk-snapshot.avhdx: its child. */
async function makeDisks() {
  const raw = join(dir, "disk.raw");
  const handle = openSync(raw, "w");
  ftruncateSync(handle, 256 * MiB);
  const fill = (offset, length, seed) => {
    const bytes = new Uint8Array(length).map((_, i) => (i * 31 + seed) & 0xff || 1);
    writeSync(handle, bytes, 0, length, offset);
  };
  for (const [offset, length] of [
    [1, 6],
    [33, 20],
    [60, 3],
    [96, 11],
    [150, 2],
    [180, 24],
  ])
    fill(offset * MiB, length * MiB, offset);
  closeSync(handle);
  const script = [
    "label: gpt",
    'start=2048, size=65536, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="EFI system"',
    'start=67584, size=393216, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="root"',
    'start=460800, size=61440, type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F, name="swap"',
    "",
  ].join("\n");
  execFileSync("sfdisk", ["-q", raw], { input: script });
  execFileSync("qemu-img", [
    "convert",
    "-f",
    "raw",
    "-O",
    "vhdx",
    "-o",
    "subformat=dynamic,block_size=1M",
    raw,
    join(dir, "disk.vhdx"),
  ]);
  const base = await openVhdx(join(dir, "disk.vhdx"));
  const child = await createVhdx(join(dir, "disk-snapshot.avhdx"), { type: "differencing", parent: base });
  for (const [offset, length] of [
    [40, 4],
    [70, 5],
    [120, 8],
    [200, 2],
  ]) {
    await child.write(offset * MiB, new Uint8Array(length * MiB).fill(0x42));
  }
  await child.close();
  await base.close();
}

async function distPages() {
  const { readdir, readFile } = await import("node:fs/promises");
  const dist = join(root, "dist");
  const pages = {};
  for (const entry of await readdir(dist, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    pages[path.slice(dist.length)] = await readFile(path, "utf8");
  }
  return pages;
}
