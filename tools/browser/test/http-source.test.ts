// HttpSource with its default fetch (the browser's own, no fetch option) in
// Chromium against the range server on 127.0.0.1: same origin, another origin
// with CORS that exposes Content-Range and one that does not, a missing file,
// and how many requests opening a dynamic disk and reading 4 KiB costs.
import { readFileSync } from "node:fs";
import { type RangeServer, startRangeServer } from "@vhdx-tools/browser";
import { type TempDir, oracle } from "@vhdx-tools/oracles";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type BrowserSession,
  type TestImage,
  attemptInPage,
  attemptInWorker,
  qemuImages,
  sha256,
  startSession,
  tempDir,
  succeeded,
} from "./helpers.js";

const hasOracles = [oracle("chromium"), oracle("qemu-img"), oracle("qemu-io")].every(Boolean);

describe.skipIf(!hasOracles)("HttpSource in Chromium", () => {
  let session: BrowserSession;
  let hidden: RangeServer;
  let dir: TempDir;
  let dynamic: TestImage;

  beforeAll(async () => {
    dir = tempDir("vhdx-browser-http-");
    dynamic = qemuImages(dir).dynamic;
    const files = { "/disk.vhdx": dynamic.paths[0]! };
    session = await startSession({ files, crossOrigin: { cors: "full", files } });
    hidden = await startRangeServer({ cors: "no-expose", files });
  });
  afterAll(async () => {
    await session?.close();
    await hidden?.close();
    dir?.remove();
  });

  it("reads a disk from its own origin", async () => {
    const page = await session.open();
    const digest = succeeded(await attemptInPage(page, "digestOfUrls", [session.site.url("/disk.vhdx")]));
    expect(digest).toMatchObject({ diskType: "dynamic", sha256: dynamic.sha256 });
    expect(page.errors).toEqual([]);
    await page.close();
  });

  it("reads a disk from another origin that allows it and exposes Content-Range, in a window and a worker", async () => {
    const page = await session.open();
    const url = session.site.other!.url("/disk.vhdx");
    expect(succeeded(await attemptInPage(page, "digestOfUrls", [url])).sha256).toBe(dynamic.sha256);
    expect(succeeded(await attemptInWorker(page, "digestOfUrls", [url])).sha256).toBe(dynamic.sha256);
    expect(session.site.other!.requests.some((request) => request.status === 206)).toBe(true);
    await page.close();
  });

  it("says which header to expose when another origin hides Content-Range", async () => {
    const page = await session.open();
    const failure = await attemptInPage(page, "digestOfUrls", [hidden.url("/disk.vhdx")]);
    expect(failure.ok).toBe(false);
    expect(failure.ok ? "" : failure.message).toContain("Access-Control-Expose-Headers: Content-Range");
    expect(failure.ok ? undefined : failure.code).toMatch(/^[A-Z_]+$/);
    // The server did answer with the range: only the browser hid the header from the script.
    expect(hidden.requests.some((request) => request.status === 206)).toBe(true);
    await page.close();
  });

  it("names the status of a missing file", async () => {
    const page = await session.open();
    const failure = await attemptInPage(page, "digestOfUrls", [session.site.url("/missing.vhdx")]);
    expect(failure.ok).toBe(false);
    expect(failure.ok ? "" : failure.message).toMatch(/\b404\b/);
    expect(failure.ok ? undefined : failure.code).toMatch(/^[A-Z_]+$/);
    await page.close();
  });

  it("opens a dynamic disk and reads its first 4 KiB in at most 4 requests", async () => {
    const page = await session.open();
    const before = session.site.requests.length;
    const first4k = succeeded(await attemptInPage(page, "readFirst4k", session.site.url("/disk.vhdx")));
    const requests = session.site.requests.slice(before).filter((request) => request.path === "/disk.vhdx");
    const raw = readFileSync(dir.file("dynamic.raw")).subarray(0, 4096);
    expect(first4k).toBe(sha256(raw));
    console.log(
      `open + first 4 KiB read over HTTP: ${requests.length} requests, ${requests.reduce((sum, r) => sum + r.bytes, 0)} bytes`,
    );
    expect(requests.length).toBeGreaterThan(0);
    expect(requests.length).toBeLessThanOrEqual(4);
    await page.close();
  });
});
