// Running the vhdx command in tests: in-process with in-memory streams (fast,
// precise), or as the built bin in a subprocess, the way a user runs it.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { PassThrough } from "node:stream";
import { fileURLToPath } from "node:url";
import { runCli } from "../src/cli.js";

export const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const bin = join(packageDir, "dist", "vhdx.js");

export interface Outcome {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs `vhdx ...args` in this process. */
export async function vhdx(args: string[], cwd = process.cwd()): Promise<Outcome> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on("data", (chunk: Buffer) => out.push(chunk));
  stderr.on("data", (chunk: Buffer) => err.push(chunk));
  const status = await runCli(args, { stdout, stderr, stdin: new PassThrough(), interactive: false, cwd });
  return { status, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

/** Runs the built `dist/vhdx.js` as a subprocess. */
export function vhdxProcess(args: string[], options: { cwd?: string; input?: Buffer } = {}): Outcome {
  const result = spawnSync(process.execPath, [bin, ...args], { cwd: options.cwd, input: options.input, encoding: "buffer", maxBuffer: 1 << 30 });
  return { status: result.status ?? -1, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
}

/** Builds the command if it has not been built (turbo builds before tests; a lone vitest run may not). */
export function ensureBuilt(): void {
  if (!existsSync(bin)) execFileSync("npx", ["tsup"], { cwd: packageDir, stdio: "ignore" });
}

/** True when the tool is installed; in CI (CI set) a missing oracle is a failure, never a skip. */
export function oracle(name: string): boolean {
  const found = spawnSync("sh", ["-c", `command -v ${name}`]).status === 0;
  if (!found && process.env.CI) throw new Error(`${name} is required in CI (apt-get install qemu-utils)`);
  return found;
}

export function run(command: string, args: string[], cwd?: string): string {
  return execFileSync(command, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}
