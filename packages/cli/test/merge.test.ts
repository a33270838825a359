// vhdx merge: a child's data into its parent, in-process and as the built
// command; the merged parent reads as the child did (and as QEMU says), the
// child is removed or kept relinked (--keep); errors are exit status 2.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { createVhdx, openVhdx } from "@vhdx/image/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../src/cli.js";
import { ensureBuilt, oracle, run, vhdx, vhdxProcess } from "./harness.js";

const MiB = 1 << 20;
const SIZE = 8 * MiB;
const hasQemu = oracle("qemu-img");
const dir = mkdtempSync(join(tmpdir(), "vhdx-cli-merge-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeAll(() => ensureBuilt());
let serial = 0;

function pattern(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    bytes[i] = state >>> 24;
  }
  return bytes;
}

async function readAll(path: string): Promise<Buffer> {
  const image = await openVhdx(path);
  try {
    return Buffer.from(await image.read(0, image.virtualSize));
  } finally {
    await image.close();
  }
}

/** base.vhdx (data in blocks 0-3) <- child.vhdx (sectors, a whole block, zeros over base data), in a fresh folder. */
async function chain(): Promise<{ folder: string; base: string; child: string }> {
  const folder = join(dir, `case-${++serial}`);
  const { mkdirSync } = await import("node:fs");
  mkdirSync(folder);
  const base = join(folder, "base.vhdx");
  const child = join(folder, "child.vhdx");
  const b = await createVhdx(base, { size: SIZE, blockSize: MiB });
  await b.write(0, pattern(4 * MiB, 1));
  await b.close();
  const c = await createVhdx(child, { type: "differencing", parent: base });
  await c.write(512, pattern(1024, 2));
  await c.write(2 * MiB, pattern(MiB, 3));
  await c.writeZeroes(MiB, MiB);
  await c.write(6 * MiB + 4096, pattern(100, 4));
  await c.close();
  return { folder, base, child };
}

describe("vhdx merge", () => {
  it("merges in-process, prints a summary, removes the child", async () => {
    const { folder, base, child } = await chain();
    const before = await readAll(child);
    const outcome = await vhdx(["merge", "child.vhdx"], folder);
    expect(outcome.stderr).toBe("");
    expect(outcome.status).toBe(0);
    expect(outcome.stdout).toMatch(
      /^merged child\.vhdx into .*base\.vhdx: [\d.]+ (MiB|KiB) of data, 1 MiB of zeros; child\.vhdx removed\n$/,
    );
    expect(existsSync(child)).toBe(false);
    expect((await readAll(base)).equals(before)).toBe(true);
    if (hasQemu) {
      run("qemu-img", ["check", "-f", "vhdx", base]);
      run("qemu-img", ["convert", "-f", "vhdx", "-O", "raw", base, join(folder, "base.raw")]);
      expect(readFileSync(join(folder, "base.raw")).equals(before)).toBe(true);
    }
  });

  it("--keep --json keeps the child relinked, reading as before", async () => {
    const { folder, base, child } = await chain();
    const before = await readAll(child);
    const outcome = await vhdx(["merge", "--keep", "--json", child], folder);
    expect(outcome.stderr).toBe("");
    expect(outcome.status).toBe(0);
    const report = JSON.parse(outcome.stdout);
    expect(report).toMatchObject({ child, parent: base, childRemoved: false, bytesZeroed: MiB });
    expect(report.bytesCopied).toBeGreaterThanOrEqual(MiB + 1024);
    expect((await readAll(child)).equals(before)).toBe(true);
    expect((await readAll(base)).equals(before)).toBe(true);
    const kept = await openVhdx(child);
    expect(kept.parentLocator?.parent_linkage).toBe(`{${report.parentDataWriteGuid}}`);
    await kept.close();
  });

  it("draws a progress bar on a terminal", async () => {
    const { folder } = await chain();
    const stderr = new PassThrough();
    const err: Buffer[] = [];
    stderr.on("data", (chunk: Buffer) => err.push(chunk));
    const io = { stdout: new PassThrough(), stderr, stdin: new PassThrough(), interactive: true, cwd: folder };
    expect(await runCli(["merge", "child.vhdx"], io)).toBe(0);
    expect(Buffer.concat(err).toString()).toMatch(/merge \[#+\] 100%\n$/);
  });

  it("runs as the built command", async () => {
    const { folder, base, child } = await chain();
    const before = await readAll(child);
    const outcome = vhdxProcess(["merge", "--json", "child.vhdx"], { cwd: folder });
    expect(outcome.stderr).toBe("");
    expect(outcome.status).toBe(0);
    expect(JSON.parse(outcome.stdout)).toMatchObject({ parent: base, childRemoved: true, bytesZeroed: MiB });
    expect(existsSync(child)).toBe(false);
    expect((await readAll(base)).equals(before)).toBe(true);
  });

  it("has --help with examples", async () => {
    const outcome = await vhdx(["merge", "--help"], dir);
    expect(outcome.status).toBe(0);
    expect(outcome.stdout).toContain("Usage: vhdx merge [--keep] [-p|-q] [--confine-parents] [--json] CHILD");
    expect(outcome.stdout).toContain("Examples:");
    expect(outcome.stdout).toContain("not atomic");
  });

  it("refuses a disk that is not differencing, and bad arguments, with exit status 2", async () => {
    const { folder, base } = await chain();
    const hash = readFileSync(base);
    const notChild = await vhdx(["merge", "base.vhdx"], folder);
    expect(notChild.status).toBe(2);
    expect(notChild.stderr).toMatch(/^vhdx: INVALID_ARGUMENT: .*not a differencing disk/);
    expect(readFileSync(base).equals(hash)).toBe(true);
    expect((await vhdx(["merge"], folder)).status).toBe(2);
    expect((await vhdx(["merge", "--force", "child.vhdx"], folder)).status).toBe(2);
    expect(existsSync(join(folder, "child.vhdx"))).toBe(true);
    const missing = vhdxProcess(["merge", "nothing.vhdx"], { cwd: folder });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/^vhdx: IO_ERROR: /);
  });
});
