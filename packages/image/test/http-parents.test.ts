// Parents over HTTP, against the local range server: a child read through an
// HttpSource finds its parent by resolving relative_path against its own URL
// (same origin unless allowParentOutsideTree), a URL in `parents` opens over
// HTTP, and what cannot be the parent is named in the error.
import { type Fixture, STATE, buildVhdx } from "@vhdx-tools/fixtures";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpSource, MemorySource, openImage } from "../src/index.js";
import { relativePathAsUrl } from "../src/open/http-parents.js";
import { type RangeServer, expectCode, expectSameBytes, startRangeServer } from "./http-helpers.js";

const MiB = 1 << 20;

const base = buildVhdx({
  virtualSize: 4 * MiB,
  blockSize: MiB,
  type: "dynamic",
  blocks: { 0: { state: STATE.FULLY_PRESENT }, 1: { state: STATE.FULLY_PRESENT } },
});

/** A child of `parent` (base by default) whose locator holds `paths`. */
function childOf(paths: Record<string, string>, parent: Fixture = base, dataWriteGuid = parent.dataWriteGuid) {
  return buildVhdx(
    {
      virtualSize: 4 * MiB,
      blockSize: MiB,
      type: "differencing",
      parent: { dataWriteGuid, paths },
      blocks: { 1: { state: STATE.PARTIALLY_PRESENT, presentSectors: (s) => s % 2 === 0 } },
    },
    parent,
  );
}

const sameFolder = childOf({ relative_path: ".\\base.vhdx", absolute_win32_path: "D:\\vms\\base.vhdx" });
const below = childOf({ relative_path: "..\\base.vhdx" });
const encoded = childOf({ relative_path: "old disks\\base #1 100%.vhdx" });
const middle = childOf({ relative_path: "base.vhdx" });
const top = childOf({ relative_path: "middle.vhdx" }, middle);
const notUrls = childOf({ absolute_win32_path: "C:\\vms\\base.vhdx", volume_path: "\\\\?\\Volume{0}\\base.vhdx" });
const missing = childOf({ relative_path: "gone.vhdx" });
const mismatched = childOf({ relative_path: "base.vhdx" }, base, "01234567-89ab-cdef-0123-456789abcdef");

let server: RangeServer;
let other: RangeServer;
beforeAll(async () => {
  other = await startRangeServer({ files: { "/base.vhdx": base.bytes } });
  const otherOrigin = childOf({ relative_path: `\\\\${new URL(other.origin).host}\\base.vhdx` });
  server = await startRangeServer({
    files: {
      "/disks/base.vhdx": base.bytes,
      "/disks/same-folder.vhdx": sameFolder.bytes,
      "/base.vhdx": base.bytes,
      "/disks/below.vhdx": below.bytes,
      "/disks/old disks/base #1 100%.vhdx": base.bytes,
      "/disks/encoded.vhdx": encoded.bytes,
      "/disks/middle.vhdx": middle.bytes,
      "/disks/top.vhdx": top.bytes,
      "/disks/not-urls.vhdx": notUrls.bytes,
      "/disks/missing.vhdx": missing.bytes,
      "/disks/mismatched.vhdx": mismatched.bytes,
      "/disks/other-origin.vhdx": otherOrigin.bytes,
    },
  });
});
afterAll(() => Promise.all([server.close(), other.close()]));

const open = (path: string, options = {}) => openImage(new HttpSource(server.url(path)), options);

describe("relative_path against the child's URL", () => {
  it("finds a parent in the same folder, reads through it, and closes it with the child", async () => {
    const image = await open("/disks/same-folder.vhdx");
    const parent = image.parent!;
    expect(parent.source.name).toBe(server.url("/disks/base.vhdx"));
    expect(parent.dataWriteGuid).toBe(base.dataWriteGuid);
    expectSameBytes(await image.read(0, 4 * MiB), sameFolder.expected);
    await image.close();
    await expectCode(parent.read(0, 512), "CLOSED");
    await expectCode(parent.source.size(), "CLOSED");
  });

  it("finds a parent in the folder above (..\\base.vhdx)", async () => {
    const image = await open("/disks/below.vhdx");
    expect(image.parent?.source.name).toBe(server.url("/base.vhdx"));
    expectSameBytes(await image.read(0, 4 * MiB), below.expected);
    await image.close();
  });

  it("percent-encodes the names of the path", async () => {
    expect(relativePathAsUrl(".\\old disks\\base #1 100%.vhdx")).toBe("./old%20disks/base%20%231%20100%25.vhdx");
    const image = await open("/disks/encoded.vhdx");
    expect(image.parent?.source.name).toBe(server.url("/disks/old%20disks/base%20%231%20100%25.vhdx"));
    expectSameBytes(await image.read(0, 4 * MiB), encoded.expected);
    await image.close();
  });

  it("follows a chain of three over HTTP", async () => {
    const image = await open("/disks/top.vhdx");
    expect(image.parent?.source.name).toBe(server.url("/disks/middle.vhdx"));
    expect(image.parent?.parent?.source.name).toBe(server.url("/disks/base.vhdx"));
    expectSameBytes(await image.read(0, 4 * MiB), top.expected);
    await image.close();
  });

  it("sends the child's headers to a parent on its origin, through the child's fetch", async () => {
    const seen: { url: string; authorization: string | undefined }[] = [];
    const spy: typeof fetch = (input, init) => {
      seen.push({
        url: String(input),
        authorization: (init?.headers as Record<string, string> | undefined)?.authorization,
      });
      return fetch(input, init);
    };
    const source = new HttpSource(server.url("/disks/same-folder.vhdx"), {
      fetch: spy,
      headers: { authorization: "Bearer t" },
    });
    const image = await openImage(source);
    expect(seen.some(({ url }) => url === server.url("/disks/base.vhdx"))).toBe(true);
    expect(seen.every(({ authorization }) => authorization === "Bearer t")).toBe(true);
    await image.close();
  });
});

describe("what is refused or not found", () => {
  it("refuses a relative_path that leads to another origin, naming it", async () => {
    const error = await expectCode(open("/disks/other-origin.vhdx"), "PARENT_NOT_FOUND");
    expect(error.message).toContain(`${other.origin}/base.vhdx`);
    expect(error.message).toContain(`on another origin than the child's ${server.origin}`);
    expect(error.message).toContain("allowParentOutsideTree");
    expect(other.requests).toHaveLength(0);
  });

  it("follows it with allowParentOutsideTree, without the child's headers", async () => {
    const seen: { url: string; headers: Record<string, string> }[] = [];
    const spy: typeof fetch = (input, init) => {
      seen.push({ url: String(input), headers: (init?.headers ?? {}) as Record<string, string> });
      return fetch(input, init);
    };
    const source = new HttpSource(server.url("/disks/other-origin.vhdx"), {
      fetch: spy,
      headers: { authorization: "Bearer t" },
    });
    const image = await openImage(source, { allowParentOutsideTree: true });
    expect(image.parent?.source.name).toBe(`${other.origin}/base.vhdx`);
    expect(other.requests.length).toBeGreaterThan(0);
    const toOther = seen.filter(({ url }) => url.startsWith(other.origin));
    expect(toOther.length).toBeGreaterThan(0);
    expect(toOther.every(({ headers }) => headers.authorization === undefined)).toBe(true);
    await image.close();
  });

  it("gives PARENT_NOT_FOUND naming the URL and its 404", async () => {
    const error = await expectCode(open("/disks/missing.vhdx"), "PARENT_NOT_FOUND");
    expect(error.message).toContain(`GET ${server.url("/disks/gone.vhdx")}: 404 Not Found`);
  });

  it("gives PARENT_LINKAGE_MISMATCH when the parent there has another DataWriteGuid", async () => {
    const error = await expectCode(open("/disks/mismatched.vhdx"), "PARENT_LINKAGE_MISMATCH");
    expect(error.message).toContain(server.url("/disks/base.vhdx"));
    expect(error.message).toContain(base.dataWriteGuid);
  });

  it("skips absolute_win32_path and volume_path, saying they are not URLs", async () => {
    const error = await expectCode(open("/disks/not-urls.vhdx"), "PARENT_NOT_FOUND");
    expect(error.message).toContain('absolute_win32_path "C:\\\\vms\\\\base.vhdx": a path on the machine');
    expect(error.message).toContain("volume_path");
    expect(error.message).toContain("not a URL");
  });

  it("opens with parentError under requireParent: false", async () => {
    const image = await open("/disks/missing.vhdx", { requireParent: false });
    expect(image.parent).toBeNull();
    expect(image.parentError?.code).toBe("PARENT_NOT_FOUND");
    await image.close();
  });
});

describe("URLs in `parents`", () => {
  it("opens an http URL as the parent, and closes it with the child", async () => {
    const image = await open("/disks/not-urls.vhdx", { parents: [server.url("/disks/base.vhdx")] });
    const parent = image.parent!;
    expect(parent.source).toBeInstanceOf(HttpSource);
    expect(parent.source.name).toBe(server.url("/disks/base.vhdx"));
    expectSameBytes(await image.read(0, 4 * MiB), notUrls.expected);
    await image.close();
    await expectCode(parent.source.size(), "CLOSED");
  });

  it("opens one for a child in memory too", async () => {
    const image = await openImage(new MemorySource(notUrls.bytes), { parents: [server.url("/base.vhdx")] });
    expectSameBytes(await image.read(0, 4 * MiB), notUrls.expected);
    await image.close();
  });

  it("names a URL that answers 404", async () => {
    const url = server.url("/disks/nothing.vhdx");
    const error = await expectCode(open("/disks/not-urls.vhdx", { parents: [url] }), "PARENT_NOT_FOUND");
    expect(error.message).toContain(`parent ${url}: GET ${url}: 404 Not Found`);
  });
});
