// Running the vhdx command in tests: in-process with in-memory streams (fast,
// precise), or as the built bin in a subprocess, the way a user runs it.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { PassThrough } from "node:stream";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";
import { runCli } from "../src/cli.js";

export const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
/** What a user runs (package.json "bin"); it loads dist/, which `ensureBuilt` makes. */
export const bin = join(packageDir, "bin", "vhdx.cjs");
const builtProgram = join(packageDir, "dist", "vhdx-program.cjs");

// The commands run here keep their code caches in a folder of the tests, not in the user's ~/.cache.
process.env.XDG_CACHE_HOME = join(tmpdir(), "vhdx-cli-tests-cache");

export interface Outcome {
  status: number;
  stdout: string;
  /** stdout as bytes, for commands that write binary data (cat, read). */
  stdoutBytes: Buffer;
  stderr: string;
}

export interface InProcessOptions {
  /** What stdin holds. */
  input?: Uint8Array;
  /** stderr is a terminal: progress bars are drawn. */
  interactive?: boolean;
  /** stdout claims to be a terminal (cat and read refuse to write binary there). */
  stdoutIsTTY?: boolean;
}

/** Runs `vhdx ...args` in this process. */
export async function vhdx(args: string[], cwd = process.cwd(), options: InProcessOptions = {}): Promise<Outcome> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const stdin = new PassThrough();
  stdin.end(options.input ?? new Uint8Array(0));
  if (options.stdoutIsTTY) Object.assign(stdout, { isTTY: true });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on("data", (chunk: Buffer) => out.push(Buffer.from(chunk)));
  stderr.on("data", (chunk: Buffer) => err.push(Buffer.from(chunk)));
  const status = await runCli(args, { stdout, stderr, stdin, interactive: options.interactive ?? false, cwd });
  const bytes = Buffer.concat(out);
  return { status, stdout: bytes.toString(), stdoutBytes: bytes, stderr: Buffer.concat(err).toString() };
}

/** Runs the built command (bin/vhdx.cjs) as a subprocess. */
export function vhdxProcess(args: string[], options: { cwd?: string; input?: Uint8Array } = {}): Outcome {
  const result = spawnSync(process.execPath, [bin, ...args], {
    cwd: options.cwd,
    input: options.input,
    encoding: "buffer",
    maxBuffer: 1 << 30,
  });
  return {
    status: result.status ?? -1,
    stdout: result.stdout.toString(),
    stdoutBytes: result.stdout,
    stderr: result.stderr.toString(),
  };
}

/** Builds the command if it has not been built (turbo builds before tests; a lone vitest run may not). */
export function ensureBuilt(): void {
  if (!existsSync(builtProgram)) execFileSync("npx", ["tsup"], { cwd: packageDir, stdio: "ignore" });
}

export { oracle } from "@vhdx-tools/oracles";

/** The command succeeded and said nothing on stderr. */
export function expectClean(outcome: { status: number; stderr: string }): void {
  expect(outcome.stderr).toBe("");
  expect(outcome.status).toBe(0);
}

export function run(command: string, args: string[], options: { cwd?: string; input?: Uint8Array } = {}): string {
  const { cwd, input } = options;
  return execFileSync(command, args, {
    cwd,
    input,
    encoding: "utf8",
    stdio: [input ? "pipe" : "ignore", "pipe", "pipe"],
    timeout: 60_000,
  });
}
