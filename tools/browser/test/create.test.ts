// Creating and writing images in memory in Chromium: createImage on a
// MemorySource, a pattern written, the image closed, and the file's bytes
// carried to Node, where `qemu-img check` and `qemu-img compare` against the
// expected raw disk must pass. In the window and in a module worker.
import { writeFileSync } from "node:fs";
import { type TempDir, oracle, qemuCheck, run } from "@vhdx-tools/oracles";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BrowserSession, attemptInPage, attemptInWorker, startSession, tempDir, succeeded } from "./helpers.js";
import { type PatternWrite, rawDisk } from "./page/pattern.js";

const hasOracles = [oracle("chromium"), oracle("qemu-img")].every(Boolean);

const MiB = 1 << 20;

// A partial first block, a write across a block boundary, one sector, and the last sector.
const writesFor = (size: number): PatternWrite[] => [
  { offset: 0, length: 64 * 1024, seed: 1 },
  { offset: 3 * MiB - 4096, length: MiB + 8192, seed: 2 },
  { offset: 7 * MiB + 512, length: 512, seed: 3 },
  { offset: size - 512, length: 512, seed: 4 },
];

const CASES = [
  { name: "dynamic", options: { size: 24 * MiB, type: "dynamic", blockSize: MiB } },
  { name: "fixed", options: { size: 8 * MiB, type: "fixed", blockSize: 2 * MiB } },
] as const;

describe.skipIf(!hasOracles)("createImage on a MemorySource in Chromium", () => {
  let session: BrowserSession;
  let dir: TempDir;

  beforeAll(async () => {
    dir = tempDir("vhdx-browser-create-");
    session = await startSession();
  });
  afterAll(async () => {
    await session?.close();
    dir?.remove();
  });

  /** Writes the image to a file and checks it with QEMU against the raw disk the writes make. */
  function checkWithQemu(name: string, base64: string, size: number): void {
    const vhdx = dir.file(`${name}.vhdx`);
    const raw = dir.file(`${name}.raw`);
    writeFileSync(vhdx, Buffer.from(base64, "base64"));
    writeFileSync(raw, rawDisk(size, writesFor(size)));
    expect(qemuCheck(vhdx)).toContain("No errors were found");
    // qemu-img compare exits 0 when the contents are identical, 1 when they differ.
    expect(run("qemu-img", ["compare", "-f", "vhdx", "-F", "raw", vhdx, raw]).toString()).toContain(
      "Images are identical",
    );
  }

  it.each(CASES)("a $name image written in the window passes qemu-img check and compare", async ({ name, options }) => {
    const page = await session.open();
    const base64 = succeeded(await attemptInPage(page, "createInMemory", options, writesFor(options.size)));
    checkWithQemu(`${name}-window`, base64, options.size);
    expect(page.errors).toEqual([]);
    await page.close();
  });

  it.each(CASES)(
    "a $name image written in a module worker passes qemu-img check and compare",
    async ({ name, options }) => {
      const page = await session.open();
      const base64 = succeeded(await attemptInWorker(page, "createInMemory", options, writesFor(options.size)));
      checkWithQemu(`${name}-worker`, base64, options.size);
      await page.close();
    },
  );
});
