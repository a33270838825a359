// Locking as people meet it at the shell: several `vhdx write` processes on
// one image at once, and vhdx beside qemu-io. Runs the built bin (bin/vhdx.cjs)
// as real, overlapping subprocesses. Linux only (QEMU's lock bytes).
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "@vhdx-tools/oracles";
import { bin, ensureBuilt, oracle, vhdxProcess } from "./harness.js";

const KiB = 1024;
const MiB = 1024 * KiB;
const linux = process.platform === "linux";
const qemu = linux && oracle("qemu-io") && oracle("qemu-img");

const dir = tempDir("vhdx-cli-locking-");
const processes: ChildProcess[] = [];
let count = 0;

beforeAll(() => ensureBuilt(), 200_000);
afterEach(() => {
  for (const child of processes.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
});
afterAll(() => dir.remove());

interface Finished {
  status: number;
  stderr: string;
}

/** Starts `vhdx ...args`; `exited` resolves when it ends. */
function startVhdx(args: string[]): { child: ChildProcess; exited: Promise<Finished> } {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ["pipe", "pipe", "pipe"] });
  processes.push(child);
  // A refused writer exits without reading its stdin.
  child.stdin!.on("error", () => undefined);
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout!.resume();
  const exited = new Promise<Finished>((resolve) =>
    child.on("close", (status) => resolve({ status: status ?? -1, stderr })),
  );
  return { child, exited };
}

function newImage(size = 64 * MiB): string {
  const path = dir.file(`image-${++count}.vhdx`);
  const created = vhdxProcess(["create", "--block-size", "1M", path, String(size)]);
  expect(created.status, created.stderr).toBe(0);
  return path;
}

function readBack(path: string, offset: number, length: number): Buffer {
  const outcome = vhdxProcess(["read", "--offset", String(offset), "--length", String(length), path]);
  expect(outcome.status, outcome.stderr).toBe(0);
  return outcome.stdoutBytes;
}

/** Whether the file holds a lock on QEMU's WRITE byte (101): someone has it open for writing. */
function heldForWriting(path: string): boolean {
  const inode = statSync(path).ino;
  return readFileSync("/proc/locks", "utf8")
    .split("\n")
    .some((line) => line.includes(`:${inode} `) && /\s(100 101|101 101)$/.test(line.trim()));
}

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  const until = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function qemuIo(path: string, flags: string[], command: string): Finished {
  const result = spawnSync("qemu-io", ["-f", "vhdx", ...flags, "-c", command, path], {
    encoding: "utf8",
    timeout: 20_000,
  });
  return { status: result.status ?? -1, stderr: result.stderr };
}

async function qemuHoldingForWriting(path: string): Promise<void> {
  const child = spawn("qemu-io", ["-f", "vhdx", "-c", "sleep 3000", path], { stdio: "ignore" });
  processes.push(child);
  await waitFor(() => heldForWriting(path), "qemu-io to lock the image");
}

describe.skipIf(!linux)("concurrent vhdx write", () => {
  it("keeps every write that succeeded, and refuses the others with LOCKED", async () => {
    const path = newImage();
    const writers = Array.from({ length: 6 }, (_, i) => {
      // Non-overlapping: writer i writes somewhere in its own 8 MiB slot.
      const offset = i * 8 * MiB + Math.floor(Math.random() * 64) * 64 * KiB;
      const data = randomBytes(256 * KiB);
      const run = startVhdx(["write", "--offset", String(offset), path, "-"]);
      run.child.stdin!.end(data);
      return { offset, data, exited: run.exited };
    });
    const outcomes = await Promise.all(writers.map((w) => w.exited));
    const succeeded = writers.filter((_, i) => outcomes[i]!.status === 0);
    for (const outcome of outcomes) {
      if (outcome.status !== 0) {
        expect(outcome.status, outcome.stderr).toBe(2);
        expect(outcome.stderr).toMatch(
          /LOCKED: cannot open .* is open (for writing|by another program that does not allow writing)/,
        );
      }
    }
    expect(succeeded.length, outcomes.map((o) => o.stderr).join("")).toBeGreaterThan(0);
    for (const { offset, data } of succeeded) expect(readBack(path, offset, data.length).equals(data)).toBe(true);
    const check = vhdxProcess(["check", path]);
    expect(check.status, check.stdout + check.stderr).toBe(0);
    if (qemu) expect(spawnSync("qemu-img", ["check", "-f", "vhdx", path]).status).toBe(0);
  }, 20_000);
});

describe.skipIf(!qemu)("vhdx beside qemu-io", () => {
  it("refuses to write while qemu-io has the image open", async () => {
    const path = newImage();
    await qemuHoldingForWriting(path);
    const outcome = vhdxProcess(["write", "--offset", "0", path, "-"], { input: new Uint8Array(4096).fill(1) });
    expect(outcome.status).toBe(2);
    expect(outcome.stderr).toMatch(
      /^vhdx: LOCKED: cannot open .* is open for writing by another program \(QEMU, a virtual machine, or another vhdx\)/,
    );
  });

  it("reads with -U while qemu-io writes", async () => {
    const path = newImage();
    await qemuHoldingForWriting(path);
    const refused = vhdxProcess(["info", path]);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain("LOCKED");
    const info = vhdxProcess(["info", "-U", path]);
    expect(info.status, info.stderr).toBe(0);
    const read = vhdxProcess(["read", "-U", "--offset", "0", "--length", "4096", path]);
    expect(read.status, read.stderr).toBe(0);
    expect(read.stdoutBytes.length).toBe(4096);
  });

  it("holds the image while vhdx write reads a slow stdin: qemu-io cannot write, then the write completes", async () => {
    const path = newImage();
    const data = randomBytes(64 * KiB);
    const run = startVhdx(["write", "--offset", String(MiB), path, "-"]);
    run.child.stdin!.write(data.subarray(0, 4 * KiB));
    await waitFor(() => heldForWriting(path), "vhdx write to lock the image");
    const started = Date.now();
    const qemuWrite = qemuIo(path, [], "write -P 1 0 4k");
    expect(qemuWrite.status).not.toBe(0);
    expect(qemuWrite.stderr).toContain("Failed to get");
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, 2000 - (Date.now() - started))));
    run.child.stdin!.end(data.subarray(4 * KiB));
    const outcome = await run.exited;
    expect(outcome.status, outcome.stderr).toBe(0);
    expect(readBack(path, MiB, data.length).equals(data)).toBe(true);
    // Released: qemu-io writes now.
    expect(qemuIo(path, [], "write -P 1 0 4k").status).toBe(0);
  }, 20_000);
});
