// vhdx cat, read and write against QEMU: what they read is what qemu-img
// convert and qemu-io read; what write writes, QEMU reads back; a closed pipe
// ends cat quietly; errors are one line and exit status 2.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createVhdx, openVhdx } from "@vhdx/image/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  bin,
  ensureBuilt,
  expectClean,
  type InProcessOptions,
  oracle,
  run,
  vhdx as vhdxIn,
  vhdxProcess as vhdxOut,
} from "./harness.js";

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

/** `vhdx ...args` in this process (stdin holds `input`; `tty` makes stdout a terminal). */
const vhdx = async (args: string[], options: { input?: Uint8Array; tty?: boolean } = {}) =>
  asBytes(
    await vhdxIn(args, dir, {
      ...(options.input ? { input: options.input } : {}),
      stdoutIsTTY: options.tty ?? false,
    } satisfies InProcessOptions),
  );

/** The built command in a subprocess, the way a user runs it. */
const vhdxProcess = (args: string[], input?: Uint8Array) =>
  asBytes(vhdxOut(args, { cwd: dir, ...(input ? { input } : {}) }));

function qemuIo(path: string, commands: string[]): string {
  return run("qemu-io", ["-f", "vhdx", ...commands.flatMap((c) => ["-c", c]), path]);
}

function qemuRaw(image: string): Buffer {
  const raw = `${image}.qemu.raw`;
  rmSync(raw, { force: true });
  run("qemu-img", ["convert", "-f", "vhdx", "-O", "raw", image, raw]);
  return readFileSync(raw);
}

function noise(length: number, seed: number): Buffer {
  const bytes = Buffer.alloc(length);
  let state = seed;
  for (let i = 0; i < length; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    bytes[i] = (state >>> 16) | 1;
  }
  return bytes;
}

/** An error the way a user should see it: one line, the code, no stack trace. */
function expectOneLineError(outcome: Outcome, code: string): void {
  expect(outcome.status).toBe(2);
  expect(outcome.stderr).toMatch(new RegExp(`^vhdx: ${code}: [^\\n]+\\n$`));
  expect(outcome.stderr).not.toMatch(/\n\s+at /);
}

const file = (name: string) => join(dir, name);

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "vhdx-io-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const hasQemu = oracle("qemu-img") && oracle("qemu-io");

// ------------------------------------------------------------ cat and read

describe.skipIf(!hasQemu)("cat and read give the bytes QEMU reads", () => {
  let image: string;
  let raw: Buffer;
  beforeAll(() => {
    image = file("data.vhdx");
    run("qemu-img", ["create", "-q", "-f", "vhdx", "-o", "block_size=1048576", image, "40M"]);
    qemuIo(image, [
      "write -P 0x5a 0 2M",
      "write -z 512k 8k",
      "write -P 0x11 7340000 3000",
      "write -P 0x77 39M 1M",
      "write -z 39M 1000k",
    ]);
    raw = qemuRaw(image);
  });

  it("cat writes the whole virtual disk", async () => {
    const outcome = await vhdx(["cat", image]);
    expectClean(outcome);
    expect(outcome.stdout.length).toBe(40 * MiB);
    expect(outcome.stdout.equals(raw)).toBe(true);
  });

  it.each([
    ["0", "512"],
    ["0", "3M"],
    ["511k", "2k"],
    ["7340000", "3000"],
    ["7339999", "3002"],
    ["39M", "1M"],
    ["40959k", "1024"],
    ["12345", "0"],
  ])("read --offset %s --length %s", async (offset, length) => {
    const outcome = await vhdx(["read", image, "--offset", offset, "--length", length]);
    expectClean(outcome);
    const start = Number.parseInt(offset, 10) * (offset.endsWith("k") ? 1024 : offset.endsWith("M") ? MiB : 1);
    const count = Number.parseInt(length, 10) * (length.endsWith("k") ? 1024 : length.endsWith("M") ? MiB : 1);
    expect(outcome.stdout.equals(raw.subarray(start, start + count))).toBe(true);
  });

  it("read agrees with qemu-io's pattern reads, and runs to the end of the disk without --length", async () => {
    qemuIo(image, ["read -P 0x11 7340000 3000", "read -P 0x77 41918464 24576"]);
    const pattern = await vhdx(["read", image, "--offset", "7340000", "--length", "3000"]);
    expect(pattern.stdout.every((b) => b === 0x11)).toBe(true);
    const tail = await vhdx(["read", image, "--offset", "41918464"]);
    expect(tail.stdout.length).toBe(24576);
    expect(tail.stdout.every((b) => b === 0x77)).toBe(true);
  });

  it("read -o OUT writes a sparse file with the range", async () => {
    const out = file("range.bin");
    writeFileSync(out, "old contents are replaced");
    expectClean(await vhdx(["read", image, "--offset", "1M", "--length", "30M", "-o", "range.bin"]));
    expect(readFileSync(out).equals(raw.subarray(MiB, 31 * MiB))).toBe(true);
    expect(statSync(out).blocks * 512).toBeLessThan(4 * MiB);
  });

  it("cat and read follow a differencing child to its parent", async () => {
    const child = file("data-child.vhdx");
    const image2 = await createVhdx(child, { type: "differencing", parent: image });
    await image2.write(MiB - 10, new Uint8Array(20).fill(0xee));
    await image2.close();
    const expected = Buffer.from(raw);
    expected.fill(0xee, MiB - 10, MiB + 10);
    const whole = await vhdx(["cat", child]);
    expectClean(whole);
    expect(whole.stdout.equals(expected)).toBe(true);
    const part = await vhdx(["read", child, "--offset", String(MiB - 100), "--length", "200"]);
    expect(part.stdout.equals(expected.subarray(MiB - 100, MiB + 100))).toBe(true);
  });

  it("refuses to write binary data to a terminal, or -o onto the disk itself", async () => {
    expectOneLineError(await vhdx(["cat", image], { tty: true }), "INVALID_ARGUMENT");
    expectOneLineError(await vhdx(["read", image, "--length", "1"], { tty: true }), "INVALID_ARGUMENT");
    expectOneLineError(await vhdx(["read", image, "--length", "1", "-o", image]), "INVALID_ARGUMENT");
    expect(qemuRaw(image).equals(raw)).toBe(true);
  });
});

// ------------------------------------------------------------ write

describe.skipIf(!hasQemu)("write puts bytes where QEMU reads them", () => {
  it("writes a file at an unaligned offset; the image stays clean and QEMU reads the bytes", async () => {
    const image = file("w1.vhdx");
    run("qemu-img", ["create", "-q", "-f", "vhdx", "-o", "block_size=1048576", image, "24M"]);
    qemuIo(image, ["write -P 0x33 2M 4M"]);
    const expected = qemuRaw(image);
    const input = noise(3 * MiB + 777, 7);
    writeFileSync(file("w1.in"), input);
    const outcome = await vhdx(["write", image, "--offset", "1000001", "w1.in", "--json"]);
    expectClean(outcome);
    expect(JSON.parse(outcome.stdout.toString())).toEqual({
      file: image,
      input: file("w1.in"),
      offset: 1000001,
      length: input.length,
    });
    input.copy(expected, 1000001);
    expect(run("qemu-img", ["check", "-f", "vhdx", image])).toMatch(/No errors were found/);
    expect(qemuRaw(image).equals(expected)).toBe(true);
  });

  it("writes zeros over data (and prints nothing without --json)", async () => {
    const image = file("w2.vhdx");
    run("qemu-img", ["create", "-q", "-f", "vhdx", "-o", "block_size=1048576", image, "16M"]);
    qemuIo(image, ["write -P 0x44 0 16M"]);
    writeFileSync(file("zeros.in"), Buffer.alloc(9 * MiB));
    const outcome = await vhdx(["write", image, "--offset", "3M", file("zeros.in")]);
    expectClean(outcome);
    expect(outcome.stdout.length).toBe(0);
    qemuIo(image, ["read -P 0x44 0 3M", "read -P 0 3M 9M", "read -P 0x44 12M 4M"]);
    expect(run("qemu-img", ["check", "-f", "vhdx", image])).toMatch(/No errors were found/);
  });

  it("writes stdin (in-process), and into a differencing child without touching its parent", async () => {
    const parent = file("w3-parent.vhdx");
    run("qemu-img", ["create", "-q", "-f", "vhdx", parent, "8M"]);
    qemuIo(parent, ["write -P 0x55 0 8M"]);
    const parentBytes = readFileSync(parent);
    const child = file("w3-child.vhdx");
    await (await createVhdx(child, { type: "differencing", parent })).close();
    expectClean(await vhdx(["write", child, "--offset", "4097", "-"], { input: Buffer.from("written from stdin") }));
    expect(readFileSync(parent).equals(parentBytes)).toBe(true);
    const image = await openVhdx(child);
    try {
      expect(Buffer.from(await image.read(4090, 30)).toString("latin1")).toBe(
        `${"U".repeat(7)}written from stdin${"U".repeat(5)}`,
      );
    } finally {
      await image.close();
    }
  });

  it("refuses data that does not fit, before writing any of it", async () => {
    const image = file("w4.vhdx");
    run("qemu-img", ["create", "-q", "-f", "vhdx", image, "4M"]);
    writeFileSync(file("w4.in"), noise(MiB, 3));
    const before = readFileSync(image);
    expectOneLineError(await vhdx(["write", image, "--offset", String(3 * MiB + 1), "w4.in"]), "OUT_OF_RANGE");
    expectOneLineError(
      await vhdx(["write", image, "--offset", "5M", "-"], { input: Buffer.from("x") }),
      "OUT_OF_RANGE",
    );
    expectOneLineError(
      await vhdx(["write", image, "--offset", "3M", "-"], { input: noise(MiB + 1, 4) }),
      "OUT_OF_RANGE",
    );
    expect(readFileSync(image).equals(before)).toBe(true);
    expectOneLineError(await vhdx(["write", image, "w4.in"]), "INVALID_ARGUMENT");
  });
});

// ------------------------------------------------------------ errors

describe("errors are one line and exit status 2", () => {
  it.each([
    ["cat of a missing file", ["cat", "missing.vhdx"], "IO_ERROR"],
    ["read of a missing file", ["read", "missing.vhdx", "--length", "1"], "IO_ERROR"],
    ["write into a missing file", ["write", "missing.vhdx", "--offset", "0", "-"], "IO_ERROR"],
    ["read with a bad size", ["read", "missing.vhdx", "--offset", "12Q"], "INVALID_ARGUMENT"],
    ["cat with a bad format", ["cat", "-f", "qcow2", "missing.vhdx"], "INVALID_ARGUMENT"],
    ["an unknown option", ["cat", "--bogus", "missing.vhdx"], "INVALID_ARGUMENT"],
  ])("%s", async (_name, args, code) => {
    expectOneLineError(await vhdx(args), code);
  });

  it("random bytes given as -f vhdx, and offsets past the end", async () => {
    const junk = file("junk.bin");
    writeFileSync(junk, noise(2 * MiB, 9));
    const bad = await vhdx(["cat", "-f", "vhdx", junk]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^vhdx: [A-Z_]+: [^\n]+\n$/);
    expect(bad.stdout.length).toBe(0);
    expect((await vhdx(["write", junk, "--offset", "0", "-"], { input: Buffer.from("x") })).stderr).toMatch(
      /^vhdx: [A-Z_]+: [^\n]+\n$/,
    );
    expectOneLineError(await vhdx(["read", "-f", "raw", junk, "--offset", "2M", "--length", "1"]), "OUT_OF_RANGE");
    expectOneLineError(await vhdx(["read", "-f", "raw", junk, "--offset", "3M"]), "OUT_OF_RANGE");
    const raw = await vhdx(["read", "-f", "raw", junk, "--offset", "2047k", "--length", "1k"]);
    expectClean(raw);
    expect(raw.stdout.equals(readFileSync(junk).subarray(2047 * 1024))).toBe(true);
  });
});

// ------------------------------------------------------------ the built command

describe.skipIf(!hasQemu)("the built vhdx cat, read and write, run as a user runs them", () => {
  let image: string;
  beforeAll(() => {
    ensureBuilt();
    image = file("proc.vhdx");
    run("qemu-img", ["create", "-q", "-f", "vhdx", image, "64M"]);
    qemuIo(image, ["write -P 0x61 0 64M"]);
  }, 120_000);

  it.each([
    ["cat", `cat proc.vhdx`],
    ["cat of a disk of zeros", `cat zeros.vhdx`],
    ["cat -f raw", `cat -f raw proc.vhdx`],
    ["read", `read proc.vhdx --offset 1M`],
  ])("%s piped into head -c 100 ends quietly with status 0", (_name, command) => {
    if (!existsSync(file("zeros.vhdx"))) run("qemu-img", ["create", "-q", "-f", "vhdx", file("zeros.vhdx"), "1G"]);
    const script = `set -o pipefail; ${JSON.stringify(process.execPath)} ${JSON.stringify(bin)} ${command} | head -c 100 | wc -c`;
    const result = spawnSync("bash", ["-c", script], { cwd: dir, encoding: "utf8", timeout: 60_000 });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(result.stdout.trim()).toBe("100");
  });

  it("write from a pipe, read back with read -o and by qemu-io", () => {
    const input = noise(3 * MiB + 5, 11);
    const written = vhdxProcess(["write", "proc.vhdx", "--offset", "5M", "-"], input);
    expect(written.stderr).toBe("");
    expect(written.status).toBe(0);
    expect(written.stdout.length).toBe(0);
    expect(run("qemu-img", ["check", "-f", "vhdx", image])).toMatch(/No errors were found/);
    const back = vhdxProcess([
      "read",
      "proc.vhdx",
      "--offset",
      "5M",
      "--length",
      String(input.length),
      "-o",
      "back.bin",
    ]);
    expect(back.stderr).toBe("");
    expect(back.status).toBe(0);
    expect(readFileSync(file("back.bin")).equals(input)).toBe(true);
    const raw = qemuRaw(image);
    expect(raw.subarray(5 * MiB, 5 * MiB + input.length).equals(input)).toBe(true);
    expect(raw.subarray(0, 5 * MiB).every((b) => b === 0x61)).toBe(true);
    const whole = vhdxProcess(["cat", "proc.vhdx"]);
    expect(whole.status).toBe(0);
    expect(whole.stdout.equals(raw)).toBe(true);
  });

  it("reports errors in one line with status 2", () => {
    expectOneLineError(vhdxProcess(["cat", "nope.vhdx"]), "IO_ERROR");
    writeFileSync(file("junk2.bin"), noise(MiB, 5));
    const junk = vhdxProcess(["read", "-f", "vhdx", "junk2.bin", "--length", "1"]);
    expect(junk.status).toBe(2);
    expect(junk.stderr).toMatch(/^vhdx: [A-Z_]+: [^\n]+\n$/);
    expectOneLineError(vhdxProcess(["read", "proc.vhdx", "--offset", "64M", "--length", "1"]), "OUT_OF_RANGE");
    expectOneLineError(vhdxProcess(["write", "proc.vhdx", "--offset", "65M", "-"], Buffer.from("x")), "OUT_OF_RANGE");
    for (const command of ["cat", "read", "write"]) {
      const help = vhdxProcess([command, "--help"]);
      expect(help.status).toBe(0);
      expect(help.stdout.toString()).toMatch(new RegExp(`^Usage: vhdx ${command}[\\s\\S]*Examples:`));
    }
  });
});
