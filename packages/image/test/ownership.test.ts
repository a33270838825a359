// Who closes a source: image.close() ends the write session and closes what
// the library opened itself (openVhdx's and createVhdx's files and their
// locks, parents found through the locator), never a source or a parent the
// caller handed over. "Another process can take it" is checked with a second
// node process opening the file for writing, as a person's next command would.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { tempDir } from "@vhdx-tools/oracles";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemorySource, type RandomAccessSource, createImage, openImage } from "../src/index.js";
import { createVhdx, openVhdx } from "../src/node/index.js";

const MiB = 1 << 20;
const PACKAGE_DIR = dirname(dirname(fileURLToPath(import.meta.url)));
const DIST_NODE = join(PACKAGE_DIR, "dist", "node.js");
const dir = tempDir("vhdx-ownership-");

beforeAll(() => {
  // The other process runs dist/: build it when it is missing.
  if (!existsSync(DIST_NODE)) execFileSync("npx", ["tsup"], { cwd: PACKAGE_DIR, stdio: "pipe", timeout: 180_000 });
}, 200_000);
afterAll(() => dir.remove());

/** What another process gets when it opens `path` for writing: "opened" or the error's code. */
function openElsewhere(path: string): string {
  const script = `
    const { FileSource } = await import(${JSON.stringify(pathToFileURL(DIST_NODE).href)});
    try { await (await FileSource.open(${JSON.stringify(path)}, { readOnly: false })).close(); console.log("opened"); }
    catch (error) { console.log(error.code ?? String(error)); }`;
  const result = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
  return result.stdout.trim() || result.stderr;
}

async function readsFine(source: RandomAccessSource): Promise<boolean> {
  const count = await source.read(new Uint8Array(8), 0);
  return count === 8;
}

async function closedError(work: Promise<unknown>): Promise<unknown> {
  return work.then(
    () => null,
    (error: unknown) => (error as { code?: string }).code,
  );
}

/** A dynamic parent and a differencing child, in memory. */
async function memoryChain(): Promise<{ parent: MemorySource; child: MemorySource }> {
  const parent = new MemorySource();
  const child = new MemorySource();
  const parentImage = await createImage(parent, { size: 4 * MiB, blockSize: MiB });
  await parentImage.write(0, new Uint8Array(4096).fill(0xaa));
  const childImage = await createImage(child, {
    type: "differencing",
    parent: parentImage,
    parentLocator: { relative_path: "parent.vhdx" },
  });
  await childImage.close();
  await parentImage.close();
  return { parent, child };
}

describe("a source the caller passed in", () => {
  it("stays open after openImage's image is closed", async () => {
    const source = new MemorySource();
    await (await createImage(source, { size: 4 * MiB })).close();
    const image = await openImage(source);
    await image.close();
    expect(await readsFine(source)).toBe(true);
    expect(await closedError(image.read(0, 512))).toBe("CLOSED");
    const again = await openImage(source);
    expect(again.virtualSize).toBe(4 * MiB);
    await again.close();
  });

  it("stays open after createImage's image is closed, with the write session ended", async () => {
    const source = new MemorySource();
    const image = await createImage(source, { size: 4 * MiB, blockSize: MiB });
    await image.write(MiB, new Uint8Array(512).fill(7));
    await image.close();
    await expect(image.write(0, new Uint8Array(512))).rejects.toMatchObject({ code: "CLOSED" });
    const again = await openImage(source);
    expect(again.logGuid).toBe("00000000-0000-0000-0000-000000000000");
    expect((await again.read(MiB, 512)).every((byte) => byte === 7)).toBe(true);
    await again.close();
  });

  it("a parent image passed in parents stays open; a parent source passed in parents stays open", async () => {
    const { parent, child } = await memoryChain();
    const parentImage = await openImage(parent);
    const first = await openImage(child, { parents: [parentImage] });
    expect(first.parent).toBe(parentImage);
    await first.close();
    expect((await parentImage.read(0, 4096)).every((byte) => byte === 0xaa)).toBe(true);
    await parentImage.close();

    const second = await openImage(child, { parents: [parent] });
    const openedParent = second.parent!;
    await second.close();
    expect(await closedError(openedParent.read(0, 512))).toBe("CLOSED");
    expect(await readsFine(parent)).toBe(true);
    expect(await readsFine(child)).toBe(true);
  });

  it("a parent source passed in parents stays open when opening the child fails on it", async () => {
    const { child } = await memoryChain();
    const notVhdx = new MemorySource(new Uint8Array(MiB).fill(1));
    await expect(openImage(child, { parents: [notVhdx] })).rejects.toBeDefined();
    expect(await readsFine(notVhdx)).toBe(true);
    expect(await readsFine(child)).toBe(true);
  });
});

describe("files the library opened", () => {
  it("openVhdx: close() closes the file and releases its lock", async () => {
    const path = dir.file("opened.vhdx");
    await (await createVhdx(path, { size: 4 * MiB })).close();
    const image = await openVhdx(path);
    expect(openElsewhere(path)).toBe("LOCKED");
    await image.close();
    expect(await closedError(image.source.read(new Uint8Array(8), 0))).toBe("CLOSED");
    expect(openElsewhere(path)).toBe("opened");
  });

  it("createVhdx: close() closes the new file and releases its lock", async () => {
    const path = dir.file("created.vhdx");
    const image = await createVhdx(path, { size: 4 * MiB });
    expect(openElsewhere(path)).toBe("LOCKED");
    await image.close();
    expect(await closedError(image.source.read(new Uint8Array(8), 0))).toBe("CLOSED");
    expect(openElsewhere(path)).toBe("opened");
  });

  it("parents found through the locator are closed with the child, their locks released", async () => {
    const parentPath = dir.file("base.vhdx");
    const childPath = dir.file("child.vhdx");
    await (await createVhdx(parentPath, { size: 4 * MiB })).close();
    await (await createVhdx(childPath, { type: "differencing", parent: parentPath })).close();
    const image = await openVhdx(childPath);
    const parent = image.parent!;
    expect(openElsewhere(parentPath)).toBe("LOCKED");
    await image.close();
    expect(await closedError(parent.read(0, 512))).toBe("CLOSED");
    expect(await closedError(parent.source.read(new Uint8Array(8), 0))).toBe("CLOSED");
    expect(openElsewhere(parentPath)).toBe("opened");
  });

  it("a parent image opened by openVhdx and passed in parents stays open", async () => {
    const parentPath = dir.file("kept-base.vhdx");
    const childPath = dir.file("kept-child.vhdx");
    await (await createVhdx(parentPath, { size: 4 * MiB })).close();
    const parent = await openVhdx(parentPath);
    await (await createVhdx(childPath, { type: "differencing", parent })).close();
    // Without a resolver (a copy in memory), the caller's parent image is the one used.
    const image = await openImage(new MemorySource(new Uint8Array(readFileSync(childPath))), { parents: [parent] });
    expect(image.parent).toBe(parent);
    await image.close();
    expect(await readsFine(parent.source)).toBe(true);
    expect((await parent.read(0, 512)).length).toBe(512);
    await parent.close();
  });
});
