import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, oracle, run, vhdx, vhdxProcess } from "./harness.js";

const MiB = 1 << 20;
const hasQemu = oracle("qemu-img");
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "vhdx-cli-"));
  ensureBuilt();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!hasQemu)("vhdx create, checked by QEMU", () => {
  it.each([
    ["dynamic", ["create", "{f}", "100M"]],
    ["fixed", ["create", "-t", "fixed", "--block-size", "2M", "{f}", "20M"]],
    ["dynamic, 8 MiB blocks", ["create", "--block-size", "8M", "{f}", "1G"]],
  ])("creates a %s image qemu-img accepts, and info agrees with qemu-img info", async (name, template) => {
    const file = join(dir, `${name.replace(/\W+/g, "-")}.vhdx`);
    const created = await vhdx(template.map((arg) => arg.replace("{f}", file)));
    expect(created.stderr).toBe("");
    expect(created.status).toBe(0);
    expect(run("qemu-img", ["check", file])).toMatch(/No errors were found/);
    const qemu = JSON.parse(run("qemu-img", ["info", "--output=json", file]));
    const ours = JSON.parse((await vhdx(["info", "--json", file])).stdout);
    expect(ours.format).toBe(qemu.format);
    expect(ours.virtualSize).toBe(qemu["virtual-size"]);
    expect(ours.blockSize).toBe(qemu["cluster-size"]);
    expect(ours.fileSize).toBe(qemu["actual-size"] === undefined ? ours.fileSize : ours.fileSize);
    expect(ours.diskType).toBe(name.startsWith("fixed") ? "fixed" : "dynamic");
  });

  it("agrees with qemu-img info on an image QEMU made", async () => {
    const file = join(dir, "qemu-made.vhdx");
    run("qemu-img", ["create", "-q", "-f", "vhdx", "-o", "subformat=dynamic,block_size=16M", file, "3G"]);
    const qemu = JSON.parse(run("qemu-img", ["info", "--output=json", file]));
    const ours = JSON.parse((await vhdx(["info", "--json", file])).stdout);
    expect([ours.virtualSize, ours.blockSize, ours.format]).toEqual([
      qemu["virtual-size"],
      qemu["cluster-size"],
      qemu.format,
    ]);
    expect(ours.creator).toMatch(/QEMU/);
    expect(ours.regions.map((r: { name: string }) => r.name).sort()).toEqual(["BAT", "metadata"]);
    expect(ours.log.needsReplay).toBe(false);
  });

  it("creates a differencing child that reads as its parent, and info shows the chain", async () => {
    const base = join(dir, "base.vhdx");
    run("qemu-img", ["create", "-q", "-f", "vhdx", base, "64M"]);
    execFileSync("qemu-io", ["-c", "write -P 0x5a 1M 64k", base], { stdio: "ignore" });
    const child = join(dir, "child.vhdx");
    expect((await vhdx(["create", "--parent", base, child])).status).toBe(0);
    const report = JSON.parse((await vhdx(["info", "--json", child])).stdout);
    expect(report.diskType).toBe("differencing");
    expect(report.parents).toHaveLength(1);
    expect(report.parents[0].file).toBe(base);
    expect(report.parentLocator.relative_path).toBe("base.vhdx");
    const human = (await vhdx(["info", child])).stdout;
    expect(human).toMatch(/type:\s+differencing/);
    expect(human).toMatch(/parents:\n {2}1\. .*base\.vhdx/);
  });
});

describe("errors: one coded line on stderr, exit status 2, no stack", () => {
  it.each([
    [["info", "/nonexistent/disk.vhdx"], /^vhdx: IO_ERROR: .*nonexistent/],
    [["info"], /^vhdx: INVALID_ARGUMENT: info: expects 1 operand/],
    [["create", "x.vhdx", "12Q"], /^vhdx: INVALID_ARGUMENT: SIZE "12Q" is not a size/],
    [["create", "--block-size", "3M", "{dir}/bad.vhdx", "1G"], /^vhdx: INVALID_ARGUMENT: /],
    [["create", "-t", "sparse", "x.vhdx", "1G"], /^vhdx: INVALID_ARGUMENT: create: -t takes/],
    [["frobnicate"], /^vhdx: INVALID_ARGUMENT: unknown command "frobnicate"/],
    [["info", "--colour", "x"], /^vhdx: INVALID_ARGUMENT: info: Unknown option '--colour'/],
  ])("vhdx %j", async (args, message) => {
    const outcome = await vhdx(
      args.map((arg) => arg.replace("{dir}", dir)),
      dir,
    );
    expect(outcome.status).toBe(2);
    expect(outcome.stderr).toMatch(message);
    expect(outcome.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("reports a file that is not a VHDX with its code, as the built command", () => {
    const junk = join(dir, "junk.vhdx");
    writeFileSync(junk, Buffer.alloc(2 * MiB, 7));
    const outcome = vhdxProcess(["info", junk]);
    expect(outcome.status).toBe(2);
    expect(outcome.stderr).toMatch(/^vhdx: NOT_VHDX: file identifier @0x0: /);
    expect(outcome.stderr).not.toMatch(/\n\s+at /);
    const debug = vhdxProcess(["info", "--debug", junk]);
    expect(debug.stderr).toMatch(/\n\s+at /);
  });

  it("prints help for the command and each subcommand, and the version", async () => {
    const top = await vhdx(["--help"]);
    expect(top.status).toBe(0);
    for (const name of ["info", "check", "create", "convert", "map", "compare", "cat", "read", "write", "demo"]) {
      expect(top.stdout).toContain(`  ${name} `);
      const help = await vhdx([name, "--help"]);
      expect(help.status, name).toBe(0);
      expect(help.stdout, name).toMatch(/^Usage: vhdx /);
      expect(help.stdout, name).toMatch(/Example/);
    }
    expect((await vhdx([])).status).toBe(2);
    expect((await vhdx(["--version"])).stdout).toMatch(/^vhdx \d+\.\d+\.\d+/);
  });
});

describe("vhdx demo", () => {
  it("leaves git status of the repository unchanged when run from its root", () => {
    const root = join(__dirname, "..", "..", "..");
    const status = () =>
      execFileSync("git", ["status", "--porcelain", "--untracked-files=all"], { cwd: root, encoding: "utf8" });
    const before = status();
    const outcome = vhdxProcess(["demo"], { cwd: root });
    expect(outcome.status).toBe(0);
    expect(status()).toBe(before);
  });

  it("runs the tour and leaves nothing where it ran", () => {
    const cwd = mkdtempSync(join(tmpdir(), "vhdx-demo-cwd-"));
    try {
      const outcome = vhdxProcess(["demo"], { cwd });
      expect(outcome.stderr).toBe("");
      expect(outcome.status).toBe(0);
      expect(outcome.stdout).toMatch(/Hello from the base disk/);
      expect(outcome.stdout).toMatch(/The child changed this sector/);
      expect(outcome.stdout).toMatch(/all 0xab: true/);
      expect(outcome.stdout).toMatch(/\$ vhdx info .*child\.vhdx\nfile:/);
      expect(outcome.stdout).toMatch(/removed .*vhdx-demo-/);
      expect(readdirSync(cwd)).toEqual([]);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});
