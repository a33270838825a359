// Differencing chains in Chromium without the caller naming the parents: a
// child opened from a URL finds its parent through the locator's
// relative_path resolved against the child's URL, and openChains sorts Files
// picked in any order under misleading names into chains by linkage
// (DataWriteGuid). The chain comes from @vhdx-tools/fixtures and is compared
// with python3-libvhdi's read of it; the lone disk with qemu-img's raw.
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { type TempDir, oracle } from "@vhdx-tools/oracles";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type BrowserSession,
  type TestImage,
  attemptInPage,
  attemptInWorker,
  fixtureChain,
  qemuImages,
  startSession,
  succeeded,
  tempDir,
} from "./helpers.js";
import { patternBytes } from "./page/pattern.js";

const hasOracles = [oracle("chromium"), oracle("qemu-img"), oracle("qemu-io"), oracle("pyvhdi")].every(Boolean);

describe.skipIf(!hasOracles)("parents found without being named, in Chromium", () => {
  let session: BrowserSession;
  let dir: TempDir;
  let chain: TestImage;
  let lone: TestImage;

  beforeAll(async () => {
    dir = tempDir("vhdx-browser-parents-");
    chain = fixtureChain(dir); // child.vhdx, whose relative_path is "base.vhdx", and base.vhdx
    lone = qemuImages(dir).dynamic;
    const [child, base] = chain.paths as [string, string];
    session = await startSession({ files: { "/disks/child.vhdx": child, "/disks/base.vhdx": base } });
  });
  afterAll(async () => {
    await session?.close();
    dir?.remove();
  });

  it("resolves relative_path against the child's URL, in a window and in a worker", async () => {
    const page = await session.open();
    const url = session.site.url("/disks/child.vhdx");
    for (const digest of [
      succeeded(await attemptInPage(page, "digestOfUrls", [url])),
      succeeded(await attemptInWorker(page, "digestOfUrls", [url])),
    ]) {
      expect(digest).toMatchObject({ diskType: "differencing", sha256: chain.sha256 });
      expect(digest.chain).toHaveLength(2);
    }
    expect(session.site.requests.some((request) => request.path === "/disks/base.vhdx")).toBe(true);
    expect(page.errors).toEqual([]);
    await page.close();
  });

  it("openChains sorts picked Files into chains by DataWriteGuid, not by name or order", async () => {
    const [child, base] = chain.paths as [string, string];
    // Names that say the opposite of what the files are, the parent picked before its child.
    const picked = [
      dir.file("b-child.vhdx"),
      dir.file("c-lone.vhdx"),
      dir.file("not-a-disk.vhdx"),
      dir.file("a-base.vhdx"),
    ];
    copyFileSync(base, picked[0]!);
    copyFileSync(lone.paths[0]!, picked[1]!);
    writeFileSync(picked[2]!, patternBytes(3 << 20, 9));
    writeFileSync(picked[3]!, readFileSync(child));
    const page = await session.open();
    await page.setInputFiles("#files", picked);
    for (const where of ["window", "worker"] as const) {
      const found = succeeded(
        await page.evaluate(
          (w) => (w === "window" ? probe.attempt : probe.inWorker)("digestsOfChains", probe.pickedFiles()),
          where,
        ),
      );
      expect(
        found.chains.map(({ leaf, sha256, chain }) => ({ leaf, sha256, depth: chain.length })),
        where,
      ).toEqual([
        { leaf: "c-lone.vhdx", sha256: lone.sha256, depth: 1 },
        { leaf: "a-base.vhdx", sha256: chain.sha256, depth: 2 },
      ]);
      expect(found.unused.map(({ name }) => name)).toEqual(["not-a-disk.vhdx"]);
    }
    expect(page.errors).toEqual([]);
    await page.close();
  });
});
