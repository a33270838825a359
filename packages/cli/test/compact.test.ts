// vhdx compact: all-zero blocks freed, the file shrinks, the contents stay
// (qemu-img convert before and after), vhdx check and qemu-img check clean.
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../src/cli.js";
import { ensureBuilt, oracle, run, vhdx } from "./harness.js";

const MiB = 1 << 20;
const hasQemu = oracle("qemu-img") && oracle("qemu-io");
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "vhdx-cli-compact-"));
  ensureBuilt();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A 64 MiB dynamic image, 1 MiB blocks: 3 allocated all-zero blocks, data at the start and near the end. */
function qemuImage(name: string): string {
  const file = join(dir, name);
  run("qemu-img", ["create", "-q", "-f", "vhdx", "-o", "subformat=dynamic,block_size=1M", file, "64M"]);
  run("qemu-io", [
    "-f",
    "vhdx",
    "-c",
    "write -P 0x61 0 1M",
    "-c",
    "write -P 0 2M 3M",
    "-c",
    "write -P 0x62 50M 1M",
    "-c",
    "write -P 0x63 63M 4k",
    file,
  ]);
  return file;
}

function raw(file: string): Buffer {
  const out = `${file}.raw`;
  run("qemu-img", ["convert", "-f", "vhdx", "-O", "raw", file, out]);
  return readFileSync(out);
}

describe.skipIf(!hasQemu)("vhdx compact", () => {
  it("frees zero blocks, moves blocks, shrinks the file; contents unchanged, checks clean", async () => {
    const file = qemuImage("disk.vhdx");
    const before = raw(file);
    const sizeBefore = statSync(file).size;

    const outcome = await vhdx(["compact", file]);

    expect(outcome.stderr).toBe("");
    expect(outcome.status).toBe(0);
    expect(outcome.stdout).toMatch(
      new RegExp(
        `^compacted ${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: 3 zero blocks freed, [1-9]\\d* blocks? moved, [\\d.]+ MiB → [\\d.]+ MiB\\n$`,
      ),
    );
    expect(statSync(file).size).toBeLessThanOrEqual(sizeBefore - 3 * MiB);
    expect(Buffer.compare(raw(file), before)).toBe(0);
    const check = await vhdx(["check", file]);
    expect(check.status, check.stdout + check.stderr).toBe(0);
    expect(run("qemu-img", ["check", file])).toMatch(/No errors were found/);
  });

  it("--json gives the counts and sizes", async () => {
    const file = qemuImage("json.vhdx");
    const sizeBefore = statSync(file).size;
    const outcome = await vhdx(["compact", "--json", "json.vhdx"], dir);
    expect(outcome.status).toBe(0);
    const report = JSON.parse(outcome.stdout);
    expect(report).toEqual({
      file,
      zeroedBlocks: 3,
      movedBlocks: report.movedBlocks,
      fileSizeBefore: sizeBefore,
      fileSizeAfter: statSync(file).size,
    });
    expect(report.movedBlocks).toBeGreaterThan(0);
    expect(report.fileSizeAfter).toBeLessThan(sizeBefore);
    const again = JSON.parse((await vhdx(["compact", "--json", file])).stdout);
    expect(again).toMatchObject({ zeroedBlocks: 0, movedBlocks: 0, fileSizeAfter: report.fileSizeAfter });
    expect((await vhdx(["check", file])).status).toBe(0);
  });

  it("draws a progress bar on a terminal, and nothing on stdout but the result", async () => {
    const file = qemuImage("tty.vhdx");
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    stdout.on("data", (c: Buffer) => out.push(c));
    stderr.on("data", (c: Buffer) => err.push(c));
    const status = await runCli(["compact", file], {
      stdout,
      stderr,
      stdin: new PassThrough(),
      interactive: true,
      cwd: dir,
    });
    expect(status).toBe(0);
    expect(Buffer.concat(err).toString()).toMatch(/Finding zero blocks \[#+\] 100%/);
    expect(Buffer.concat(out).toString()).toMatch(/^compacted /);
  });

  it("refuses a fixed image with exit 2 and UNSUPPORTED, leaving it as it was", async () => {
    const file = join(dir, "fixed.vhdx");
    run("qemu-img", ["create", "-q", "-f", "vhdx", "-o", "subformat=fixed,block_size=1M", file, "8M"]);
    const bytes = readFileSync(file);
    const outcome = await vhdx(["compact", file]);
    expect(outcome.status).toBe(2);
    expect(outcome.stderr).toMatch(/^vhdx: UNSUPPORTED: .*fixed/);
    expect(Buffer.compare(readFileSync(file), bytes)).toBe(0);
  });
});

describe("vhdx compact, arguments", () => {
  it("--help has usage and examples", async () => {
    const outcome = await vhdx(["compact", "--help"]);
    expect(outcome.status).toBe(0);
    expect(outcome.stdout).toMatch(/^Usage: vhdx compact \[-p\|-q\] \[--confine-parents\] \[--json\] FILE/);
    expect(outcome.stdout).toMatch(/Examples:\n {2}vhdx compact disk\.vhdx/);
  });

  it("needs exactly one FILE, and a missing file is an error (exit 2)", async () => {
    expect((await vhdx(["compact"])).status).toBe(2);
    const missing = await vhdx(["compact", join(tmpdir(), "no-such-file-for-compact.vhdx")]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/^vhdx: /);
  });
});
