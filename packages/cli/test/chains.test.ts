// Differencing chains kept the way people keep them: parent and child in
// different folders. Created with `vhdx create --parent` and with a locator
// that holds only an absolute path (as a backing file is written by
// qemu-img); the command follows them anywhere, --confine-parents brings the
// library's rule back, and info still shows a child whose parent is gone.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createImage } from "@vhdx/image";
import { FileSource, openVhdx } from "@vhdx/image/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, expectClean, vhdxProcess } from "./harness.js";

const MiB = 1 << 20;
let dir: string;

beforeAll(() => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), "vhdx-chains-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const vhdx = (args: string[]) => vhdxProcess(args, { cwd: dir });
const pattern = (byte: number, length: number) => Buffer.alloc(length, byte);

/** base/b.vhdx with 0xb0 at 0 and 0xb1 at 1 MiB; sub/c.vhdx over it with 0xc0 at 1 MiB. */
function makeChain(root: string): void {
  mkdirSync(join(dir, root, "base"), { recursive: true });
  mkdirSync(join(dir, root, "sub"), { recursive: true });
  expectClean(vhdx(["create", "--block-size", "1M", `${root}/base/b.vhdx`, "16M"]));
  expect(
    vhdxProcess(["write", `${root}/base/b.vhdx`, "--offset", "0", "-"], { cwd: dir, input: pattern(0xb0, 4096) })
      .status,
  ).toBe(0);
  expect(
    vhdxProcess(["write", `${root}/base/b.vhdx`, "--offset", "1M", "-"], { cwd: dir, input: pattern(0xb1, 4096) })
      .status,
  ).toBe(0);
  expectClean(vhdx(["create", "--parent", `${root}/base/b.vhdx`, `${root}/sub/c.vhdx`]));
  expect(
    vhdxProcess(["write", `${root}/sub/c.vhdx`, "--offset", "1M", "-"], { cwd: dir, input: pattern(0xc0, 4096) })
      .status,
  ).toBe(0);
}

function expectChainReads(child: string): void {
  const head = vhdx(["read", child, "--length", "4096"]);
  expect(head.status).toBe(0);
  expect(head.stdoutBytes.equals(pattern(0xb0, 4096))).toBe(true);
  const own = vhdx(["read", child, "--offset", "1M", "--length", "4096"]);
  expect(own.stdoutBytes.equals(pattern(0xc0, 4096))).toBe(true);
}

describe("vhdx create --parent across folders", () => {
  beforeAll(() => makeChain("a"));

  it("writes a relative_path from the child's folder and the parent's absolute path", () => {
    const info = JSON.parse(vhdx(["info", "--json", "a/sub/c.vhdx"]).stdout);
    expect(info.parentLocator.relative_path).toBe("..\\base\\b.vhdx");
    expect(info.parentLocator.absolute_win32_path).toBe(join(dir, "a/base/b.vhdx"));
    expect(info.parents.map((p: { file: string }) => p.file)).toEqual([join(dir, "a/base/b.vhdx")]);
    expect(info.parentError).toBeNull();
  });

  it("info, cat, convert and compare follow the parent outside the child's folder", () => {
    expectClean(vhdx(["info", "a/sub/c.vhdx"]));
    expectChainReads("a/sub/c.vhdx");
    const cat = vhdx(["cat", "a/sub/c.vhdx"]);
    expect(cat.status).toBe(0);
    expect(cat.stdoutBytes.length).toBe(16 * MiB);
    expectClean(vhdx(["convert", "a/sub/c.vhdx", "a/flat.vhdx"]));
    expect(vhdx(["compare", "a/sub/c.vhdx", "a/flat.vhdx"]).status).toBe(0);
  });

  it("--confine-parents refuses the parent, in every command that opens the chain", () => {
    for (const args of [
      ["info", "--confine-parents", "a/sub/c.vhdx"],
      ["cat", "--confine-parents", "a/sub/c.vhdx"],
      ["check", "--confine-parents", "a/sub/c.vhdx"],
    ]) {
      const outcome = vhdx(args);
      if (args[0] === "check") {
        expect(outcome.stdout, args.join(" ")).toMatch(/PARENT_NOT_FOUND|outside the child's folder/);
        continue;
      }
      if (args[0] === "info") {
        expect(outcome.status).toBe(0);
        expect(outcome.stdout).toMatch(/parent problem: +PARENT_NOT_FOUND: .*outside the child's folder/);
        continue;
      }
      expect(outcome.status, args.join(" ")).toBe(2);
      expect(outcome.stderr).toMatch(/PARENT_NOT_FOUND: .*outside the child's folder/);
    }
    const refused = vhdx(["create", "--confine-parents", "--parent", "a/base/b.vhdx", "a/sub/c2.vhdx"]);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/outside the folder/);
    expect(existsSync(join(dir, "a/sub/c2.vhdx"))).toBe(false);
  });

  it("the pair moved together is found through the relative path", () => {
    makeChain("m");
    renameSync(join(dir, "m"), join(dir, "moved"));
    const info = JSON.parse(vhdx(["info", "--json", "moved/sub/c.vhdx"]).stdout);
    expect(info.parents[0].file).toBe(join(dir, "moved/base/b.vhdx"));
    expectChainReads("moved/sub/c.vhdx");
  });

  it("the child moved alone is found through the absolute path", () => {
    makeChain("s");
    mkdirSync(join(dir, "elsewhere/deeper"), { recursive: true });
    renameSync(join(dir, "s/sub/c.vhdx"), join(dir, "elsewhere/deeper/c.vhdx"));
    const info = JSON.parse(vhdx(["info", "--json", "elsewhere/deeper/c.vhdx"]).stdout);
    expect(info.parents[0].file).toBe(join(dir, "s/base/b.vhdx"));
    expectChainReads("elsewhere/deeper/c.vhdx");
  });

  it("merge writes the child into a parent in another folder", () => {
    makeChain("g");
    expectClean(vhdx(["merge", "g/sub/c.vhdx"]));
    expect(existsSync(join(dir, "g/sub/c.vhdx"))).toBe(false);
    const merged = vhdx(["read", "g/base/b.vhdx", "--offset", "1M", "--length", "4096"]);
    expect(merged.stdoutBytes.equals(pattern(0xc0, 4096))).toBe(true);
  });
});

describe("a locator holding only an absolute path (as qemu-img writes a backing file)", () => {
  it("is followed by every command", async () => {
    mkdirSync(join(dir, "abs/base"), { recursive: true });
    mkdirSync(join(dir, "abs/child"), { recursive: true });
    expect(vhdx(["create", "--block-size", "1M", "abs/base/p.vhdx", "8M"]).status).toBe(0);
    expect(
      vhdxProcess(["write", "abs/base/p.vhdx", "--offset", "0", "-"], { cwd: dir, input: pattern(0xb0, 4096) }).status,
    ).toBe(0);
    const parent = await openVhdx(join(dir, "abs/base/p.vhdx"));
    const source = await FileSource.open(join(dir, "abs/child/q.vhdx"), { create: true });
    const child = await createImage(source, {
      type: "differencing",
      parent,
      parentLocator: { absolute_win32_path: join(dir, "abs/base/p.vhdx") },
    });
    await child.close();
    await source.close();
    await parent.close();
    const info = JSON.parse(vhdx(["info", "--json", "abs/child/q.vhdx"]).stdout);
    expect(info.parentLocator).not.toHaveProperty("relative_path");
    expect(info.parents[0].file).toBe(join(dir, "abs/base/p.vhdx"));
    const head = vhdx(["read", "abs/child/q.vhdx", "--length", "4096"]);
    expect(head.stdoutBytes.equals(pattern(0xb0, 4096))).toBe(true);
    expectClean(vhdx(["convert", "-O", "raw", "abs/child/q.vhdx", "abs/flat.raw"]));
    expect(readFileSync(join(dir, "abs/flat.raw")).subarray(0, 4096).equals(pattern(0xb0, 4096))).toBe(true);
  });
});

describe("a child whose parent is gone", () => {
  beforeAll(() => {
    makeChain("gone");
    rmSync(join(dir, "gone/base"), { recursive: true });
  });

  it("info shows the child, its locator and the problem, and exits 0", () => {
    const text = vhdx(["info", "gone/sub/c.vhdx"]);
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/type: +differencing/);
    expect(text.stdout).toMatch(/relative_path +\.\.\\base\\b\.vhdx/);
    expect(text.stdout).toMatch(/parent problem: +PARENT_NOT_FOUND/);
    const json = vhdx(["info", "--json", "gone/sub/c.vhdx"]);
    expect(json.status).toBe(0);
    const report = JSON.parse(json.stdout);
    expect(report.parents).toEqual([]);
    expect(report.parentError.code).toBe("PARENT_NOT_FOUND");
    expect(report.parentError.message).toMatch(/base\/b\.vhdx/);
  });

  it("commands that read data still refuse with the coded error", () => {
    for (const args of [
      ["cat", "gone/sub/c.vhdx"],
      ["read", "gone/sub/c.vhdx", "--length", "512"],
      ["convert", "gone/sub/c.vhdx", "gone/out.vhdx"],
      ["map", "gone/sub/c.vhdx"],
    ]) {
      const outcome = vhdx(args);
      expect(outcome.status, args.join(" ")).toBe(2);
      expect(outcome.stderr).toMatch(/^vhdx: PARENT_NOT_FOUND/);
    }
  });
});
