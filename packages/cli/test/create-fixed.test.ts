// vhdx create -t fixed --preallocation: falloc (the default) and full give
// every block its space on the file system (stat's blocks cover the file, as
// after New-VHD -Fixed), off leaves a sparse file; each image reads as zeros
// and qemu-img check finds no error.
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, expectClean, oracle, run, vhdx } from "./harness.js";

const MiB = 1 << 20;
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "vhdx-cli-create-fixed-"));
  ensureBuilt();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("vhdx create -t fixed --preallocation", () => {
  it.each([
    ["default (falloc)", []],
    ["falloc", ["--preallocation", "falloc"]],
    ["full", ["--preallocation", "full"]],
  ])("%s: the file takes its whole size on the file system", async (name, options) => {
    const file = join(dir, `${name.replace(/\W/g, "")}.vhdx`);
    const outcome = await vhdx(["create", "--json", "-t", "fixed", ...options, file, "64M"]);
    expectClean(outcome);
    const report = JSON.parse(outcome.stdout);
    expect(report.preallocation).toBe(options[1] ?? "falloc");
    const { size, blocks } = statSync(file);
    // The payload (64 MiB) is allocated; the 4 MiB of structures before it may stay sparse.
    expect(blocks * 512).toBeGreaterThanOrEqual(64 * MiB);
    expect(report.allocatedBytes).toBe(blocks * 512);
    expect(size).toBe(4 * MiB + 64 * MiB);
    if (oracle("qemu-img")) {
      expect(run("qemu-img", ["check", file])).toMatch(/No errors were found/);
      const map = JSON.parse(run("qemu-img", ["map", "--output=json", file]));
      expect(map.every((extent: { zero: boolean }) => extent.zero === false)).toBe(true);
    }
  });

  it("off: a sparse file, as before", async () => {
    const file = join(dir, "sparse.vhdx");
    const outcome = await vhdx(["create", "--json", "-t", "fixed", "--preallocation", "off", file, "64M"]);
    expectClean(outcome);
    expect(statSync(file).blocks * 512).toBeLessThan(MiB);
    expect(JSON.parse(outcome.stdout).preallocation).toBe("off");
  });

  it("refuses --preallocation for a dynamic image and an unknown mode", async () => {
    const dynamic = await vhdx(["create", "--preallocation", "full", join(dir, "d.vhdx"), "64M"]);
    expect(dynamic.status).toBe(2);
    expect(dynamic.stderr).toMatch(/--preallocation is for -t fixed/);
    const unknown = await vhdx(["create", "-t", "fixed", "--preallocation", "metadata", join(dir, "u.vhdx"), "64M"]);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/takes off, falloc or full/);
  });
});
