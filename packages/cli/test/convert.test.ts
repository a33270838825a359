// vhdx convert against QEMU: VHDX (made by qemu-img/qemu-io) to raw, raw to
// VHDX (checked and compared by qemu-img), the sparseness of both outputs,
// and the flattening of a differencing chain made by @vhdx/image.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createVhdx, openVhdx } from "@vhdx/image/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, expectClean, oracle, run, vhdx as vhdxIn, vhdxProcess as vhdxOut } from "./harness.js";

const MiB = 1 << 20;

// ------------------------------------------------------------ helpers (the harness, bound to this file's folder, stdout as bytes)

interface Outcome {
  status: number;
  stdout: Buffer;
  stderr: string;
}

const asBytes = ({
  status,
  stdoutBytes,
  stderr,
}: {
  status: number;
  stdoutBytes: Buffer;
  stderr: string;
}): Outcome => ({ status, stdout: stdoutBytes, stderr });

/** `vhdx ...args` in this process; `interactive` makes stderr a terminal. */
const vhdx = async (args: string[], interactive = false) => asBytes(await vhdxIn(args, dir, { interactive }));

/** The built command in a subprocess, the way a user runs it. */
const vhdxProcess = (args: string[]) => asBytes(vhdxOut(args, { cwd: dir }));

function qemuIo(path: string, commands: string[]): void {
  run("qemu-io", ["-f", "vhdx", ...commands.flatMap((c) => ["-c", c]), path]);
}

function qemuCompare(a: string, b: string): string {
  return run("qemu-img", ["compare", a, b]);
}

/** A raw file of `size` bytes with `pieces` of pseudo-random data, zeros elsewhere. */
function rawWith(path: string, size: number, pieces: Array<[offset: number, length: number]>, seed = 1): Buffer {
  const bytes = Buffer.alloc(size);
  let state = seed;
  for (const [offset, length] of pieces) {
    for (let i = offset; i < offset + length; i++) {
      state = (state * 1103515245 + 12345) >>> 0;
      bytes[i] = (state >>> 16) | 1; // never zero, so a piece never looks like a hole
    }
  }
  writeFileSync(path, bytes);
  return bytes;
}

const file = (name: string) => join(dir, name);

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "vhdx-convert-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const hasQemu = oracle("qemu-img") && oracle("qemu-io");

// ------------------------------------------------------------ VHDX to raw

describe.skipIf(!hasQemu)("convert -O raw, checked against qemu-img", () => {
  it.each([
    ["dynamic", "subformat=dynamic,block_size=1048576"],
    ["dynamic, 8 MiB blocks", "subformat=dynamic,block_size=8388608"],
    ["fixed", "subformat=fixed,block_size=2097152"],
  ])("%s image made by QEMU: same bytes as qemu-img convert", async (name, options) => {
    const image = file(`q-${name.replace(/\W+/g, "-")}.vhdx`);
    run("qemu-img", ["create", "-q", "-f", "vhdx", "-o", options, image, "48M"]);
    qemuIo(image, [
      "write -P 0x5a 0 3M",
      "write -P 0xa5 5M 100k",
      "write -z 1M 1M",
      "write -P 0x33 20971520 512",
      "write -P 0x77 47M 1M",
      "write -z 47M 4k",
    ]);
    const ours = `${image}.ours.raw`;
    const theirs = `${image}.qemu.raw`;
    expectClean(await vhdx(["convert", "-O", "raw", image, ours]));
    run("qemu-img", ["convert", "-f", "vhdx", "-O", "raw", image, theirs]);
    expect(statSync(ours).size).toBe(48 * MiB);
    expect(readFileSync(ours).equals(readFileSync(theirs))).toBe(true);
    expect(qemuCompare(ours, image)).toMatch(/Images are identical/);
  });

  it("writes a sparse raw file for a mostly empty disk (holes where it reads zeros)", async () => {
    const image = file("sparse.vhdx");
    run("qemu-img", ["create", "-q", "-f", "vhdx", image, "256M"]);
    qemuIo(image, ["write -P 0x11 1M 64k", "write -P 0x22 200M 64k"]);
    const out = file("sparse.raw");
    const report = await vhdx(["convert", "-O", "raw", "--json", image, out]);
    expectClean(report);
    const info = statSync(out);
    expect(info.size).toBe(256 * MiB);
    expect(info.blocks * 512).toBeLessThan(4 * MiB);
    const json = JSON.parse(report.stdout.toString());
    expect(json).toMatchObject({
      format: "raw",
      sourceFormat: "vhdx",
      virtualSize: 256 * MiB,
      dataBytes: 128 * 1024,
      fileSize: 256 * MiB,
    });
    expect(json.allocatedBytes).toBe(info.blocks * 512);
    expect(qemuCompare(out, image)).toMatch(/Images are identical/);
  });
});

// ------------------------------------------------------------ raw to VHDX

describe.skipIf(!hasQemu)("convert raw to VHDX, checked by qemu-img check and compare", () => {
  const size = 40 * MiB;
  const pieces: Array<[number, number]> = [
    [0, 4096],
    [3 * MiB - 100, 200], // across a 1 MiB boundary
    [8 * MiB, 5 * MiB],
    [39 * MiB + 512, MiB - 512], // the last sectors
  ];
  let raw: string;
  beforeAll(() => {
    raw = file("source.raw");
    rawWith(raw, size, pieces);
  });

  it.each([
    ["dynamic, default blocks", []],
    ["dynamic, 1 MiB blocks", ["--block-size", "1M"]],
    ["dynamic, 8 MiB blocks", ["-t", "dynamic", "--block-size", "8M"]],
    ["fixed, 2 MiB blocks", ["-t", "fixed", "--block-size", "2M"]],
    ["fixed, default blocks", ["-t", "fixed"]],
  ])("%s", async (name, options) => {
    const out = file(`from-raw-${name.replace(/\W+/g, "-")}.vhdx`);
    const outcome = await vhdx(["convert", ...options, "--json", raw, out]);
    expectClean(outcome);
    const report = JSON.parse(outcome.stdout.toString());
    expect(report).toMatchObject({ format: "vhdx", sourceFormat: "raw", virtualSize: size, type: name.split(",")[0] });
    expect(run("qemu-img", ["check", "-f", "vhdx", out])).toMatch(/No errors were found/);
    expect(qemuCompare(raw, out)).toMatch(/Images are identical/);
    const info = JSON.parse(run("qemu-img", ["info", "--output=json", out]));
    expect(info["virtual-size"]).toBe(size);
    if (options.includes("--block-size"))
      expect(info["cluster-size"]).toBe(Number.parseInt(options[options.indexOf("--block-size") + 1]!, 10) * MiB);
  });

  it("leaves blocks of zeros unallocated: the VHDX is much smaller than a raw of mostly zeros", async () => {
    const big = file("mostly-zeros.raw");
    rawWith(big, 256 * MiB, [
      [0, 64 * 1024],
      [100 * MiB, 10],
      [255 * MiB, MiB],
    ]);
    const out = file("mostly-zeros.vhdx");
    expectClean(await vhdx(["convert", "--block-size", "1M", big, out]));
    expect(statSync(out).size).toBeLessThan(16 * MiB);
    expect(qemuCompare(big, out)).toMatch(/Images are identical/);
    const image = await openVhdx(out);
    try {
      const table = await image.bat();
      let allocated = 0;
      for (let block = 0; block < 256; block++) if (table.payloadState(block) === 6) allocated++;
      expect(allocated).toBe(3);
    } finally {
      await image.close();
    }
  });

  it("pads a raw file that is not a whole number of sectors, and takes --logical-sector-size 4096", async () => {
    const odd = file("odd.raw");
    const bytes = rawWith(odd, 3 * MiB + 1000, [
      [3 * MiB, 1000],
      [0, 10],
    ]);
    const out = file("odd-4k.vhdx");
    expectClean(await vhdx(["convert", "--logical-sector-size", "4096", "--block-size", "1M", odd, out]));
    const image = await openVhdx(out); // QEMU 7.2 cannot open 4096-byte sectors: our reader checks
    try {
      expect(image.logicalSectorSize).toBe(4096);
      expect(image.virtualSize).toBe(3 * MiB + 4096);
      const all = await image.read(0, image.virtualSize);
      expect(Buffer.from(all.subarray(0, bytes.length)).equals(bytes)).toBe(true);
      expect(all.subarray(bytes.length).every((b) => b === 0)).toBe(true);
    } finally {
      await image.close();
    }
  });
});

// ------------------------------------------------------------ flattening

describe.skipIf(!hasQemu)("convert flattens a differencing chain", () => {
  it("gives a standalone VHDX that reads as the chain, and a raw QEMU agrees with", async () => {
    const base = file("chain-base.vhdx");
    const mid = file("chain-mid.vhdx");
    const top = file("chain-top.vhdx");
    const image = await createVhdx(base, { size: 24 * MiB, blockSize: MiB });
    await image.write(0, new Uint8Array(3 * MiB).fill(0xb0));
    await image.write(10 * MiB, new Uint8Array(2 * MiB).fill(0xb1));
    await image.write(23 * MiB, new Uint8Array(MiB).fill(0xb2));
    await image.close();
    const middle = await createVhdx(mid, { type: "differencing", parent: base });
    await middle.write(MiB + 512, new Uint8Array(1024).fill(0xc0)); // sectors inside base data: partially present
    await middle.writeZeroes(10 * MiB, MiB); // a whole block of base data now reads zeros
    await middle.write(15 * MiB, new Uint8Array(MiB).fill(0xc1));
    await middle.close();
    const child = await createVhdx(top, { type: "differencing", parent: mid });
    await child.write(2 * MiB + 4096, new Uint8Array(100).fill(0xd0)); // not sector aligned
    await child.write(15 * MiB + MiB / 2, new Uint8Array(MiB).fill(0xd1)); // across a block boundary
    await child.write(20 * MiB, new Uint8Array(512).fill(0xd2));
    await child.close();

    const flat = file("chain-flat.vhdx");
    const outcome = await vhdx(["convert", "--json", top, flat]);
    expectClean(outcome);
    expect(JSON.parse(outcome.stdout.toString())).toMatchObject({
      type: "dynamic",
      blockSize: MiB,
      virtualSize: 24 * MiB,
    });

    const chain = await openVhdx(top);
    const flattened = await openVhdx(flat);
    try {
      expect(chain.parent?.parent).not.toBeNull();
      expect(flattened.diskType).toBe("dynamic");
      expect(flattened.parent).toBeNull();
      const expected = await chain.read(0, chain.virtualSize);
      expect(Buffer.from(await flattened.read(0, flattened.virtualSize)).equals(Buffer.from(expected))).toBe(true);
      expect(expected[MiB + 512]).toBe(0xc0);
      expect(expected[10 * MiB]).toBe(0);
      expect(expected[16 * MiB]).toBe(0xd1);
      // Blocks that read as zeros in the chain are not allocated in the flat copy.
      const table = await flattened.bat();
      for (const block of [4, 5, 6, 7, 8, 9, 10, 12, 13, 14, 17, 18, 19, 21, 22])
        expect(table.payloadState(block)).not.toBe(6);
    } finally {
      await chain.close();
      await flattened.close();
    }

    const raw = file("chain.raw");
    expectClean(await vhdx(["convert", "-O", "raw", top, raw]));
    expect(run("qemu-img", ["check", "-f", "vhdx", flat])).toMatch(/No errors were found/);
    expect(qemuCompare(raw, flat)).toMatch(/Images are identical/);
  });
});

// ------------------------------------------------------------ progress

describe("convert shows progress only on a terminal", () => {
  it("draws a bar on an interactive stderr, ending its line; nothing otherwise", async () => {
    const src = file("progress.raw");
    rawWith(src, 24 * MiB, [
      [0, MiB],
      [20 * MiB, MiB],
    ]);
    const shown = await vhdx(["convert", "-O", "raw", src, file("progress-1.raw")], true);
    expect(shown.status).toBe(0);
    expect(shown.stderr).toMatch(/^\rconvert \[[# ]+\][\s\S]*100%\n$/);
    const quiet = await vhdx(["convert", "-O", "raw", src, file("progress-2.raw")]);
    expectClean(quiet);
    expect(readFileSync(file("progress-1.raw")).equals(readFileSync(src))).toBe(true);
  });
});

// ------------------------------------------------------------ arguments and refusals

describe("convert refuses what would lose data or makes no sense", () => {
  it("will not replace an existing DST without --force, nor ever the source itself", async () => {
    const src = file("keep.raw");
    rawWith(src, MiB, [[0, 100]]);
    const dst = file("exists.vhdx");
    writeFileSync(dst, "precious");
    const refused = await vhdx(["convert", src, dst]);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/^vhdx: INVALID_ARGUMENT: convert: DST .* exists; add --force to replace it\n$/);
    expect(readFileSync(dst, "utf8")).toBe("precious");
    expectClean(await vhdx(["convert", "--force", src, dst]));
    expect(readFileSync(dst).subarray(0, 8).toString()).toBe("vhdxfile");
    const self = await vhdx(["convert", "--force", "-O", "raw", src, src]);
    expect(self.status).toBe(2);
    expect(self.stderr).toMatch(/^vhdx: INVALID_ARGUMENT: convert: DST .* is the source/);
    expect(statSync(src).size).toBe(MiB);
  });

  it("rejects VHDX-only options with -O raw, unknown formats and types", async () => {
    const src = file("args.raw");
    rawWith(src, MiB, []);
    for (const args of [
      ["-O", "raw", "-t", "fixed", src, file("x.raw")],
      ["-O", "qcow2", src, file("x.qcow2")],
      ["-t", "differencing", src, file("x.vhdx")],
      ["--block-size", "3M", src, file("y.vhdx")],
      [src],
    ]) {
      const outcome = await vhdx(["convert", ...args]);
      expect(outcome.status, args.join(" ")).toBe(2);
      expect(outcome.stderr).toMatch(/^vhdx: INVALID_ARGUMENT: [^\n]+\n$/);
    }
    expect(existsSync(file("y.vhdx"))).toBe(false);
  });

  it("fails with one line for a missing source and for random bytes given as -f vhdx", async () => {
    const missing = await vhdx(["convert", file("no-such.vhdx"), file("z.raw")]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/^vhdx: IO_ERROR: [^\n]*no-such\.vhdx[^\n]*\n$/);
    const junk = file("junk.bin");
    writeFileSync(junk, Buffer.alloc(3 * MiB, 0x42));
    const bad = await vhdx(["convert", "-f", "vhdx", junk, file("junk.raw")]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^vhdx: [A-Z_]+: [^\n]+\n$/);
    expect(existsSync(file("junk.raw"))).toBe(false);
  });
});

// ------------------------------------------------------------ the built command

describe.skipIf(!hasQemu)("the built vhdx convert, run as a user runs it", () => {
  beforeAll(ensureBuilt, 120_000);

  it("converts VHDX to raw and back, and reports with --json", () => {
    const image = file("proc.vhdx");
    run("qemu-img", ["create", "-q", "-f", "vhdx", image, "32M"]);
    qemuIo(image, ["write -P 0x42 4M 2M", "write -P 0x43 31M 1M"]);
    const raw = file("proc.raw");
    const toRaw = vhdxProcess(["convert", "-O", "raw", "proc.vhdx", "proc.raw"]);
    expect(toRaw.stderr.toString()).toBe("");
    expect(toRaw.status).toBe(0);
    expect(toRaw.stdout.length).toBe(0);
    expect(qemuCompare(raw, image)).toMatch(/Images are identical/);
    const back = vhdxProcess(["convert", "--json", "--block-size", "2M", "proc.raw", "proc-back.vhdx"]);
    expect(back.stderr.toString()).toBe("");
    expect(back.status).toBe(0);
    expect(JSON.parse(back.stdout.toString())).toMatchObject({
      format: "vhdx",
      blockSize: 2 * MiB,
      dataBytes: 3 * MiB,
    });
    expect(qemuCompare(image, file("proc-back.vhdx"))).toMatch(/Images are identical/);
    const again = vhdxProcess(["convert", "proc.raw", "proc-back.vhdx"]);
    expect(again.status).toBe(2);
    expect(again.stderr.toString()).toMatch(/^vhdx: INVALID_ARGUMENT: [^\n]+\n$/);
    const help = vhdxProcess(["convert", "--help"]);
    expect(help.status).toBe(0);
    expect(help.stdout.toString()).toMatch(/^Usage: vhdx convert/);
    expect(help.stdout.toString()).toMatch(/Examples:/);
  });
});
