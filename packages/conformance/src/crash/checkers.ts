// The outside judges of a file left by a power cut: `vhdx check --json` (our
// structural checker, run in this process through runCli) and `qemu-img
// check` (an independent implementation) on the file after our replay, and
// QEMU's own replay of the file as the cut left it. QEMU refuses to open a
// file with a log to replay read-only, so its replay goes through `qemu-img
// check -r leaks`, which opens read-write.
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { PassThrough } from "node:stream";
import { runCli } from "@vhdx/cli";
import { firstDifference } from "./bytes.js";

interface CheckJson {
  clean: boolean;
  needsReplay: boolean;
  errors: Array<{ rule: string; structure: string; offset: number | null; message: string }>;
}

/** Why `vhdx check` does not call the file clean (exit status 0, no log left), or null. */
export async function vhdxCheckProblem(path: string): Promise<string | null> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const stdin = new PassThrough();
  stdin.end();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on("data", (chunk: Buffer) => out.push(chunk));
  stderr.on("data", (chunk: Buffer) => err.push(chunk));
  const status = await runCli(["check", "--json", path], {
    stdout,
    stderr,
    stdin,
    interactive: false,
    cwd: dirname(path),
  });
  const text = Buffer.concat(out).toString();
  if (status === 2) return `vhdx check could not check the file: ${Buffer.concat(err).toString().trim()}`;
  let report: CheckJson;
  try {
    report = JSON.parse(text) as CheckJson;
  } catch {
    return `vhdx check exit status ${status}, output is not JSON: ${text.slice(0, 200)}`;
  }
  if (status !== 0 || !report.clean) {
    const errors = report.errors.map(
      (e) => `[${e.rule}] ${e.structure}${e.offset === null ? "" : ` @0x${e.offset.toString(16)}`}: ${e.message}`,
    );
    return `vhdx check exit status ${status}: ${errors.slice(0, 3).join("; ")}${errors.length > 3 ? ` (+${errors.length - 3} more)` : ""}`;
  }
  if (report.needsReplay) return "vhdx check: the file still holds a log to replay after a read-write open and close";
  return null;
}

/** Why `qemu-img check -f vhdx` fails on the file, or null. */
export function qemuCheckProblem(path: string): Promise<string | null> {
  return qemuImg(["check", "-f", "vhdx", path]);
}

/**
 * Why QEMU, replaying the log of the file at `path` itself (`qemu-img check
 * -r leaks` opens it read-write, which replays), does not then read its first
 * bytes as `expected`; null when it does. The file is changed.
 */
export async function qemuReplayProblem(path: string, expected: Uint8Array): Promise<string | null> {
  const replay = await qemuImg(["check", "-r", "leaks", "-f", "vhdx", path]);
  if (replay !== null) return `QEMU's own replay: ${replay}`;
  const raw = `${path}.raw`;
  const bs = largestPowerOfTwoDividing(expected.length, MiB);
  const copy = await qemuImg([
    "dd",
    "-f",
    "vhdx",
    "-O",
    "raw",
    `bs=${bs}`,
    `count=${expected.length / bs}`,
    `if=${path}`,
    `of=${raw}`,
  ]);
  if (copy !== null) return `QEMU's own replay: ${copy}`;
  const read = new Uint8Array(await readFile(raw));
  const i = firstDifference(read, expected);
  return i < 0 ? null : `QEMU's own replay reads ${read[i]} at byte ${i}, ours ${expected[i]}`;
}

const MiB = 1 << 20;

function largestPowerOfTwoDividing(n: number, limit: number): number {
  let bs = limit;
  while (bs > 1 && n % bs !== 0) bs /= 2;
  return bs;
}

/** Runs qemu-img; a message naming the failure, or null when it exits 0. */
function qemuImg(args: string[]): Promise<string | null> {
  return new Promise((resolve) => {
    execFile("qemu-img", args, { timeout: 60_000 }, (error, stdout, stderr) => {
      if (error === null) return resolve(null);
      const status = typeof error.code === "number" ? `exit status ${error.code}` : String(error.code ?? error.message);
      resolve(`qemu-img ${args[0]}: ${status}: ${(stderr || stdout).trim().split("\n").slice(0, 4).join(" | ")}`);
    });
  });
}
