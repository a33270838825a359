// vhdx set-parent, run as a user runs it: a chain whose parent moved opens
// again and reads the same bytes for us, libvhdi and 7-Zip; a parent that is
// not the one the child was made on is refused (exit status 2) unless
// --ignore-id-mismatch, which warns.
import { mkdirSync, mkdtempSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pyvhdiRead, sevenZipRead, sevenZipTest } from "@vhdx-tools/oracles";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, expectClean, oracle, vhdxProcess } from "./harness.js";

const MiB = 1 << 20;
const SIZE = 8 * MiB;
const hasPyvhdi = oracle("pyvhdi");
const has7zz = oracle("7zz");
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "vhdx-cli-set-parent-"));
  ensureBuilt();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** base (0x41 over its first 2 MiB) and a child (0x42 over 4 KiB at 1 MiB), made and written by the command. */
function chain(name: string): { base: string; child: string; expected: Buffer } {
  const base = join(dir, `${name}-base.vhdx`);
  const child = join(dir, `${name}-child.vhdx`);
  expectClean(vhdxProcess(["create", "--block-size", "1M", base, "8M"]));
  expectClean(vhdxProcess(["write", base, "--offset", "0", "-"], { input: Buffer.alloc(2 * MiB, 0x41) }));
  expectClean(vhdxProcess(["create", "-t", "differencing", "--parent", base, child]));
  expectClean(vhdxProcess(["write", child, "--offset", "1M", "-"], { input: Buffer.alloc(4096, 0x42) }));
  const expected = Buffer.alloc(SIZE);
  expected.fill(0x41, 0, 2 * MiB).fill(0x42, MiB, MiB + 4096);
  return { base, child, expected };
}

const cat = (file: string) => vhdxProcess(["cat", file]).stdoutBytes;

describe("vhdx set-parent", () => {
  it("points a child at its moved parent; it reads the same bytes as before, for us, libvhdi and 7-Zip", () => {
    const { base, child, expected } = chain("moved");
    expect(Buffer.compare(cat(child), expected)).toBe(0);
    mkdirSync(join(dir, "archive"));
    const moved = join(dir, "archive", "base-2026.vhdx");
    renameSync(base, moved);
    const lost = vhdxProcess(["cat", child]);
    expect(lost.stderr).toMatch(/^vhdx: PARENT_NOT_FOUND: /);
    expect(lost.status).toBe(2);

    const outcome = vhdxProcess(["set-parent", "--json", child, moved]);
    expectClean(outcome);
    const result = JSON.parse(outcome.stdout);
    expect(result).toMatchObject({ child, parent: moved, linkageChanged: false });
    expect(result.newLocator.relative_path).toBe("archive\\base-2026.vhdx");
    expect(result.newLocator.parent_linkage).toBe(result.oldLocator.parent_linkage);
    expect(Buffer.compare(cat(child), expected)).toBe(0);
    expect(vhdxProcess(["check", child]).status).toBe(0);
    if (hasPyvhdi) expect(Buffer.compare(Buffer.from(pyvhdiRead(child, [[0, SIZE]], [moved])), expected)).toBe(0);
  });

  it.skipIf(!has7zz)("leaves a chain 7-Zip follows by the new relative_path, checking the linkage", () => {
    const { base, child, expected } = chain("sevenzip");
    const moved = join(dir, "sevenzip-renamed.vhdx");
    renameSync(base, moved);
    expect(sevenZipTest(child).ok).toBe(false);
    expectClean(vhdxProcess(["set-parent", child, moved]));
    const test = sevenZipTest(child);
    expect(test.problems).toEqual([]);
    expect(test.levels).toBe(2);
    expect(Buffer.compare(Buffer.from(sevenZipRead(child, SIZE)), expected)).toBe(0);
  });

  it("refuses another disk with PARENT_LINKAGE_MISMATCH; --ignore-id-mismatch takes it and warns", () => {
    const { child } = chain("other");
    const other = join(dir, "other-disk.vhdx");
    expectClean(vhdxProcess(["create", "--block-size", "1M", other, "8M"]));
    expectClean(vhdxProcess(["write", other, "--offset", "4M", "-"], { input: Buffer.alloc(MiB, 0x43) }));
    const refused = vhdxProcess(["set-parent", child, other]);
    expect(refused.stderr).toMatch(/^vhdx: PARENT_LINKAGE_MISMATCH: .*not the parent the child was made on/);
    expect(refused.status).toBe(2);

    const taken = vhdxProcess(["set-parent", "--ignore-id-mismatch", child, other]);
    expect(taken.status).toBe(0);
    expect(taken.stderr).toMatch(/^vhdx: warning: .*is not the disk .* was made on/);
    const expected = Buffer.alloc(SIZE);
    expected.fill(0x43, 4 * MiB, 5 * MiB).fill(0x42, MiB, MiB + 4096);
    expect(Buffer.compare(cat(child), expected)).toBe(0);
  });

  it("has --help with examples and the risk of --ignore-id-mismatch", () => {
    const help = vhdxProcess(["set-parent", "--help"]);
    expectClean(help);
    expect(help.stdout).toMatch(/Examples:\n/);
    expect(help.stdout).toMatch(/silently corrupt/);
  });
});
