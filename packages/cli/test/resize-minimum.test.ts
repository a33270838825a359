// vhdx resize --to-minimum: a GPT disk made by sfdisk, converted to VHDX,
// shrinks to the end of its last partition plus the backup GPT; qemu-img and
// sfdisk find the result sound; a disk with no partition table is refused.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, expectClean, oracle, run, vhdx, vhdxProcess } from "./harness.js";

const MiB = 1 << 20;
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "vhdx-cli-resize-minimum-"));
  ensureBuilt();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!oracle("qemu-img") || !oracle("sfdisk"))("vhdx resize --to-minimum", () => {
  it("shrinks a GPT disk to its last partition, the backup GPT moved; refuses a disk without a table", async () => {
    const raw = join(dir, "disk.raw");
    writeFileSync(raw, new Uint8Array(0));
    run("truncate", ["-s", "128M", raw]);
    run("sfdisk", ["-q", raw], { input: new TextEncoder().encode("label: gpt\nstart=2048, size=40MiB\n") });
    const file = join(dir, "disk.vhdx");
    expectClean(await vhdx(["convert", "--block-size", "1M", raw, file]));

    const outcome = await vhdx(["resize", "--to-minimum", "--json", file]);
    expectClean(outcome);
    expect(JSON.parse(outcome.stdout)).toMatchObject({
      oldSize: 128 * MiB,
      newSize: 42 * MiB,
      scheme: "gpt",
      partitionsEnd: 41 * MiB,
    });
    expect(run("qemu-img", ["check", file])).toMatch(/No errors were found/);
    const shrunk = join(dir, "shrunk.raw");
    run("qemu-img", ["convert", "-f", "vhdx", "-O", "raw", file, shrunk]);
    // sfdisk warns on stderr of a protective MBR or a backup GPT that does not reach the disk's end.
    const listed = spawnSync("sfdisk", ["--list", shrunk], { encoding: "utf8" });
    expect(listed.stderr).toBe("");
    expect(listed.stdout).toMatch(/Disk .*: 42 MiB/);

    const again = await vhdx(["resize", "--to-minimum", file]);
    expectClean(again);
    expect(again.stdout).toMatch(/already at its minimum/);

    const bare = join(dir, "bare.vhdx");
    expectClean(await vhdx(["create", bare, "8M"]));
    const refused = await vhdx(["resize", "--to-minimum", bare]);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/^vhdx: UNSUPPORTED: .*no partition table/);
  });

  it("has --help with the option and an example", () => {
    const help = vhdxProcess(["resize", "--help"]);
    expect(help.stdout).toMatch(/--to-minimum/);
    expect(help.stdout).toMatch(/vhdx resize --to-minimum disk.vhdx/);
  });
});
