// @vhdx/image reading whole disks in Chromium from a Blob, from Files picked
// in an <input type=file>, and in a module worker: the SHA-256 of the virtual
// disk (crypto.subtle in the page) must equal the oracle's. Fixed and dynamic
// images are made by qemu-img/qemu-io and compared with `qemu-img convert -O
// raw`; the differencing chain (QEMU 7.2 cannot open one) comes from
// @vhdx-tools/fixtures and is compared with python3-libvhdi's read.
import { basename } from "node:path";
import { type TempDir, oracle } from "@vhdx-tools/oracles";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type BrowserSession,
  type TestImage,
  attemptInWorker,
  fixtureChain,
  qemuImages,
  startSession,
  tempDir,
  succeeded,
} from "./helpers.js";

const hasOracles = [oracle("chromium"), oracle("qemu-img"), oracle("qemu-io"), oracle("pyvhdi")].every(Boolean);

describe.skipIf(!hasOracles)("@vhdx/image reads in Chromium", () => {
  let session: BrowserSession;
  let dir: TempDir;
  let images: Record<"fixed" | "dynamic" | "differencing", TestImage>;
  const urlsOf = (image: TestImage) => image.paths.map((path) => `/images/${basename(path)}`);

  beforeAll(async () => {
    dir = tempDir("vhdx-browser-");
    images = { ...qemuImages(dir), differencing: fixtureChain(dir) };
    const files = Object.fromEntries(
      Object.values(images).flatMap((image) => image.paths.map((path) => [`/images/${basename(path)}`, path])),
    );
    session = await startSession({ files });
  });
  afterAll(async () => {
    await session?.close();
    dir?.remove();
  });

  const kinds = ["fixed", "dynamic", "differencing"] as const;

  it.each(kinds)("a %s image read from Blobs hashes as the oracle's raw disk", async (kind) => {
    const page = await session.open();
    const digest = await page.evaluate(async (urls) => {
      const blobs = await probe.fetchBlobs(urls);
      return probe.attempt("digestOfBlobs", blobs);
    }, urlsOf(images[kind]));
    expect(succeeded(digest)).toMatchObject({ diskType: kind, sha256: images[kind].sha256 });
    expect(succeeded(digest).chain).toHaveLength(images[kind].paths.length);
    expect(page.errors).toEqual([]);
    await page.close();
  });

  it.each(kinds)("a %s image picked with <input type=file> hashes as the oracle's raw disk", async (kind) => {
    const page = await session.open();
    await page.setInputFiles("#files", images[kind].paths);
    const digest = await page.evaluate(() => probe.attempt("digestOfBlobs", probe.pickedFiles()));
    expect(succeeded(digest)).toMatchObject({ diskType: kind, sha256: images[kind].sha256 });
    expect(page.errors).toEqual([]);
    await page.close();
  });

  it.each(kinds)("a %s image from Blobs and from picked Files reads the same in a module worker", async (kind) => {
    const page = await session.open();
    const fromBlobs = await page.evaluate(
      async (urls) => probe.inWorker("digestOfBlobs", await probe.fetchBlobs(urls)),
      urlsOf(images[kind]),
    );
    expect(succeeded(fromBlobs)).toMatchObject({ diskType: kind, sha256: images[kind].sha256 });
    await page.setInputFiles("#files", images[kind].paths);
    const fromFiles = await page.evaluate(() => probe.inWorker("digestOfBlobs", probe.pickedFiles()));
    expect(succeeded(fromFiles)).toMatchObject({ diskType: kind, sha256: images[kind].sha256 });
    expect(page.errors).toEqual([]);
    await page.close();
  });

  it("reads over HTTP in a module worker with the default fetch", async () => {
    const page = await session.open();
    for (const kind of kinds) {
      const urls = urlsOf(images[kind]).map((path) => session.site.url(path));
      const digest = succeeded(await attemptInWorker(page, "digestOfUrls", urls));
      expect(digest, kind).toMatchObject({ diskType: kind, sha256: images[kind].sha256 });
    }
    expect(page.errors).toEqual([]);
    await page.close();
  });
});
