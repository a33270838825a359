// vhdx convert leaves DST to the page cache, as qemu-img convert, cp and dd
// do (no fdatasync at all), and --sync flushes it with the durable write path.
// Either way QEMU must accept DST and read the source's bytes from it.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { bin, ensureBuilt, expectClean, oracle, run, vhdx } from "./harness.js";

const MiB = 1 << 20;
const hasQemu = oracle("qemu-img") && oracle("qemu-io");
const hasStrace = spawnSync("strace", ["-V"]).status === 0;
if (!hasStrace && process.env.CI) {
  throw new Error("strace is missing in CI (apt-get install strace): a missing tool in CI is a failure, not a skip");
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "vhdx-convert-sync-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  vi.restoreAllMocks();
});
const file = (name: string) => join(dir, name);

/** A raw disk of `size` bytes: pseudo-random data in a few places, zeros elsewhere. */
function makeRaw(path: string, size: number): void {
  const bytes = Buffer.alloc(size);
  let state = 7;
  for (const [offset, length] of [
    [0, 3 * MiB + 1000],
    [9 * MiB - 512, 2 * MiB],
    [size - 4096, 4096],
  ] as const) {
    for (let i = offset; i < offset + length; i++) {
      state = (state * 1103515245 + 12345) >>> 0;
      bytes[i] = (state >>> 16) | 1;
    }
  }
  writeFileSync(path, bytes);
}

/** Counts fdatasync and fsync calls on every Node file handle from here on. */
async function countSyncs(): Promise<{ readonly calls: number }> {
  const probe = await open(file("probe"), "w");
  const prototype = Object.getPrototypeOf(probe) as { datasync(): Promise<void>; sync(): Promise<void> };
  await probe.close();
  const datasync = vi.spyOn(prototype, "datasync");
  const sync = vi.spyOn(prototype, "sync");
  return {
    get calls() {
      return datasync.mock.calls.length + sync.mock.calls.length;
    },
  };
}

function qemuCompare(a: string, b: string): string {
  return run("qemu-img", ["compare", a, b]);
}

describe.skipIf(!hasQemu)(
  "convert without --sync never flushes; --sync does; QEMU reads the source's bytes either way",
  () => {
    const size = 24 * MiB;
    let raw: string;
    beforeAll(() => {
      raw = file("source.raw");
      makeRaw(raw, size);
    });

    it.each([
      ["dynamic", ["--block-size", "1M"]],
      ["fixed", ["-t", "fixed", "--block-size", "2M"]],
    ])("raw to a %s VHDX", async (name, options) => {
      for (const sync of [false, true]) {
        const out = file(`${name}-${sync ? "sync" : "nosync"}.vhdx`);
        const syncs = await countSyncs();
        expectClean(await vhdx(["convert", ...options, ...(sync ? ["--sync"] : []), raw, out], dir));
        if (sync) expect(syncs.calls, "--sync").toBeGreaterThan(2);
        else expect(syncs.calls, "without --sync").toBe(0);
        vi.restoreAllMocks();
        expect(run("qemu-img", ["check", "-f", "vhdx", out])).toMatch(/No errors were found/);
        expect(qemuCompare(raw, out)).toMatch(/Images are identical/);
      }
    });

    it("VHDX to raw, and VHDX to VHDX", async () => {
      const image = file("qemu.vhdx");
      run("qemu-img", ["convert", "-f", "raw", "-O", "vhdx", "-o", "subformat=dynamic,block_size=2097152", raw, image]);
      for (const sync of [false, true]) {
        const flag = sync ? ["--sync"] : [];
        const syncs = await countSyncs();
        const rawOut = file(`back-${sync}.raw`);
        const vhdxOut = file(`back-${sync}.vhdx`);
        expectClean(await vhdx(["convert", "-O", "raw", ...flag, image, rawOut], dir));
        const afterRaw = syncs.calls;
        expectClean(await vhdx(["convert", ...flag, image, vhdxOut], dir));
        if (sync) {
          expect(afterRaw, "-O raw --sync: one fdatasync of the file, one fsync of its folder after the rename").toBe(
            2,
          );
          expect(syncs.calls - afterRaw, "-O vhdx --sync").toBeGreaterThan(2);
        } else {
          expect(syncs.calls, "without --sync").toBe(0);
        }
        vi.restoreAllMocks();
        expect(readFileSync(rawOut).equals(readFileSync(raw))).toBe(true);
        expect(run("qemu-img", ["check", "-f", "vhdx", vhdxOut])).toMatch(/No errors were found/);
        expect(qemuCompare(raw, vhdxOut)).toMatch(/Images are identical/);
      }
    });
  },
);

describe("convert --help", () => {
  it("documents --sync and that DST is otherwise left to the page cache", async () => {
    const help = await vhdx(["convert", "--help"]);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/--sync\s+flush DST to stable storage/);
    expect(help.stdout).toMatch(/page cache/);
  });
});

describe.skipIf(!hasQemu || !hasStrace)("the built vhdx convert, traced", () => {
  beforeAll(ensureBuilt, 120_000);

  /** Runs the built command under strace; returns how many fsync-family calls it made. */
  function tracedSyncs(args: string[]): number {
    const trace = file(`trace-${args.join("-").replace(/\W+/g, "_")}.txt`);
    const result = spawnSync(
      "strace",
      ["-f", "-qq", "-o", trace, "-e", "trace=fsync,fdatasync,sync_file_range,syncfs", process.execPath, bin, ...args],
      {
        cwd: dir,
        encoding: "utf8",
      },
    );
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    return readFileSync(trace, "utf8")
      .split("\n")
      .filter((line) => /\b(f(data)?sync|sync_file_range|syncfs)\(/.test(line)).length;
  }

  it("makes no fsync-family call at all without --sync, and flushes with it", () => {
    const raw = file("traced.raw");
    makeRaw(raw, 16 * MiB);
    expect(tracedSyncs(["convert", "--block-size", "2M", "traced.raw", "traced.vhdx"])).toBe(0);
    expect(tracedSyncs(["convert", "--sync", "--block-size", "2M", "traced.raw", "traced-sync.vhdx"])).toBeGreaterThan(
      2,
    );
    expect(tracedSyncs(["convert", "-O", "raw", "traced.vhdx", "traced-back.raw"])).toBe(0);
    // The file's fdatasync, then the folder's fsync that makes the rename into place durable.
    expect(tracedSyncs(["convert", "-O", "raw", "--sync", "traced.vhdx", "traced-back-sync.raw"])).toBe(2);
    for (const out of ["traced.vhdx", "traced-sync.vhdx"]) {
      expect(run("qemu-img", ["check", "-f", "vhdx", file(out)])).toMatch(/No errors were found/);
      expect(qemuCompare(raw, file(out))).toMatch(/Images are identical/);
    }
    expect(readFileSync(file("traced-back.raw")).equals(readFileSync(raw))).toBe(true);
    expect(readFileSync(file("traced-back-sync.raw")).equals(readFileSync(raw))).toBe(true);
  });
});
