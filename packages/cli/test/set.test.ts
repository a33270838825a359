// vhdx set, run as a user runs it: a new Virtual Disk ID and physical sector
// size, seen by our info, by 7-Zip's listing and accepted by qemu-img; the
// refusals with their exit status.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { guidToBytes } from "@vhdx/guid";
import { ensureBuilt, expectClean, oracle, run, vhdxProcess } from "./harness.js";

const hasQemu = oracle("qemu-img");
const has7zz = oracle("7zz");
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "vhdx-cli-set-"));
  ensureBuilt();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const info = (file: string) => JSON.parse(vhdxProcess(["info", "--json", file]).stdout);

describe.skipIf(!hasQemu)("vhdx set", () => {
  it("resets the disk ID and sets the physical sector size; qemu-img checks it, 7-Zip lists the new values", () => {
    const file = join(dir, "disk.vhdx");
    run("qemu-img", ["create", "-q", "-f", "vhdx", file, "16M"]);
    const before = info(file);
    const outcome = vhdxProcess(["set", "--json", "--reset-disk-id", "--physical-sector-size", "4096", file]);
    expectClean(outcome);
    const result = JSON.parse(outcome.stdout);
    expect(result.physicalSectorSize).toEqual({ old: 512, new: 4096 });
    expect(result.virtualDiskId.old).toBe(before.virtualDiskId);
    const after = info(file);
    expect(after.virtualDiskId).toBe(result.virtualDiskId.new);
    expect(after.virtualDiskId).not.toBe(before.virtualDiskId);
    expect(after.physicalSectorSize).toBe(4096);
    expect(after.dataWriteGuid).toBe(before.dataWriteGuid);
    expect(run("qemu-img", ["check", file])).toMatch(/No errors were found/);
    if (has7zz) {
      const listing = run("7zz", ["l", "-slt", file]);
      expect(listing).toMatch(/^PhysicalSectorSize: 4096$/m);
      expect(listing).toContain(`ID = ${Buffer.from(guidToBytes(result.virtualDiskId.new)).toString("hex")}`);
    }
  });

  it("refuses nothing to do, a size other than 512 or 4096, and 512 on 4 KiB logical sectors (exit status 2)", () => {
    const file = join(dir, "sectors-4k.vhdx");
    expectClean(vhdxProcess(["create", "--logical-sector-size", "4096", file, "16M"]));
    for (const [args, message] of [
      [[], /nothing to change/],
      [["--physical-sector-size", "1024"], /512 or 4096/],
      [["--physical-sector-size", "512"], /cannot be smaller/],
    ] as const) {
      const outcome = vhdxProcess(["set", ...args, file]);
      expect(outcome.stderr).toMatch(new RegExp(`^vhdx: INVALID_ARGUMENT: .*${message.source}`));
      expect(outcome.status).toBe(2);
    }
  });

  it("has --help with examples", () => {
    expect(vhdxProcess(["set", "--help"]).stdout).toMatch(/Examples:\n {2}vhdx set --reset-disk-id/);
  });
});
