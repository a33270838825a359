import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, oracle, run, vhdx, vhdxProcess } from "./harness.js";

const MiB = 1 << 20;
const hasQemu = oracle("qemu-img");
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "vhdx-cli-resize-"));
  ensureBuilt();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!hasQemu)("vhdx resize", () => {
  it("grows to a size, by a size, and shrinks only with nothing lost; qemu-img accepts each result", async () => {
    const file = join(dir, "disk.vhdx");
    run("qemu-img", ["create", "-q", "-f", "vhdx", "-o", "block_size=1M", file, "64M"]);
    execFileSync("qemu-io", ["-c", "write -P 0x42 0 1M", file], { stdio: "ignore" });
    const size = () => JSON.parse(run("qemu-img", ["info", "--output=json", file]))["virtual-size"];

    const first = await vhdx(["resize", file, "1G"]);
    expect(first.stderr).toBe("");
    expect(first.status).toBe(0);
    expect(size()).toBe(1024 * MiB);
    const grown = await vhdx(["resize", "--json", file, "+200G"]);
    expect(JSON.parse(grown.stdout)).toMatchObject({ oldSize: 1024 * MiB, newSize: 201 * 1024 * MiB, batMoved: true });
    expect(run("qemu-img", ["check", file])).toMatch(/No errors were found/);

    const refused = await vhdx(["resize", file, "512K"]);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/^vhdx: INVALID_ARGUMENT: .*holds data/);
    expect((await vhdx(["resize", file, "-200G"])).status).toBe(0);
    expect(size()).toBe(1024 * MiB);
    expect(vhdxProcess(["resize", "--force", file, "512K"]).status).toBe(0);
    expect(size()).toBe(512 * 1024);
    expect(run("qemu-img", ["check", file])).toMatch(/No errors were found/);
    expect((await vhdx(["compare", file, file])).status).toBe(0);
  });
});
