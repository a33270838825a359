// The metadata rule of the crash workloads "metadata" and "set-parent" can
// fail: the file a whole workload leaves passes, and one whose user item or
// parent locator is neither as before nor as after an edit does not.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { oracle } from "@vhdx-tools/oracles";
import { MemorySource, listUserMetadata, openImage, setParent, setUserMetadata } from "@vhdx/image";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CrashWorkload, buildWorkload, prepareCheckFolder, verifySurvivor } from "../src/crash/index.js";
import { openWithParent, runSteps } from "../src/crash/run-steps.js";

const QEMU = oracle("qemu-img");
let dir: string;
let metadata: CrashWorkload;
let relinked: CrashWorkload;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "vhdx-metadata-crash-"));
  metadata = await buildWorkload("metadata", 1);
  relinked = await buildWorkload("set-parent", 1);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function finished(w: CrashWorkload): Promise<Uint8Array> {
  const source = new MemorySource(w.file.slice());
  expect((await runSteps(source, w.steps, w)).error).toBeNull();
  return source.bytes().slice();
}

async function problems(w: CrashWorkload, bytes: Uint8Array, qemu = false): Promise<string[]> {
  await prepareCheckFolder(dir, w);
  return (await verifySurvivor(w, { bytes, lastDone: w.steps.length - 1 }, { dir, qemu })).problems;
}

describe("the metadata rule of the crash suite", () => {
  it("passes the files the whole workloads leave", async () => {
    expect(await problems(metadata, await finished(metadata), QEMU)).toEqual([]);
    expect(await problems(relinked, await finished(relinked))).toEqual([]);
  });

  it("catches a user item that no step wrote", async () => {
    const source = new MemorySource(await finished(metadata));
    const image = await openImage(source, { readOnly: false });
    const [item] = await listUserMetadata(image);
    expect(item).toBeDefined();
    await setUserMetadata(image, item!.itemId, new Uint8Array(item!.length + 1).fill(0x99));
    await image.close();
    expect(await problems(metadata, source.bytes())).toEqual([
      expect.stringMatching(new RegExp(`^metadata: user item ${item!.itemId} is not`)),
    ]);
  });

  it("catches a parent locator that no step wrote", async () => {
    const source = new MemorySource(await finished(relinked));
    const child = await openWithParent(source, relinked.parent, false);
    await setParent(child, child.parent!, {
      paths: { relative_path: "parent.vhdx", absolute_win32_path: "E:\\x.vhdx" },
    });
    await child.parent!.close();
    expect(await problems(relinked, source.bytes())).toEqual([
      expect.stringMatching(/^metadata: .*locator absolute_win32_path is E:\\x\.vhdx/),
    ]);
  });
});
