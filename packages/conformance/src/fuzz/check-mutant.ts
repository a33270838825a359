// What the worker does with one mutant: open and read it with the library
// (read-only), run `vhdx check --json`, `vhdx cat` and `vhdx cat --salvage`
// in-process, and judge. A VhdxError is a refusal (fine); any other error, a
// stack trace on a stream, an exit status outside 0-2 (0-3 with --salvage),
// an invalid JSON report, a change to the file's bytes, or a salvage that
// does not give the whole disk of an image the library opened, is a problem.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname } from "node:path";
import { Readable, Writable } from "node:stream";
import { runCli } from "@vhdx/cli";
import { VhdxError, type VhdxImage } from "@vhdx/image";
import { openVhdx } from "@vhdx/image/node";
import type { CheckOutcome, CheckRequest } from "./protocol.js";

const MiB = 1 << 20;
/** Disks up to this size are read whole; larger ones (a mutated size) in samples, to stay within the time limit. */
const FULL_READ_LIMIT = 256 * MiB;
const CHUNK = 4 * MiB;
const SAMPLE = 16 * MiB;
const MAX_SAMPLED_BLOCKS = 64;
const STACK_LINE = /^\s+at .+/m;

/** `opened`: the disk's size when the image opened and a read was refused. */
type LibraryResult = { ok: true; virtualSize: number } | { ok: false; code?: string; opened?: number };

export async function checkMutant(request: CheckRequest): Promise<CheckOutcome> {
  const watched = [request.path, ...request.alsoUnchanged];
  const before = watched.map(hashFile);
  const problems: string[] = [];
  const library = await readWithLibrary(request.path, problems, request.hook === "type-error");
  await runCheck(request.path, problems);
  await runCat(request.path, library, problems);
  await runSalvage(request.path, library, problems);
  watched.forEach((path, i) => {
    if (hashFile(path) !== before[i]) problems.push(`a read-only run modified ${path}`);
  });
  return {
    verdict: library.ok ? "accepted" : "refused",
    problems,
    ...(!library.ok && library.code !== undefined ? { code: library.code } : {}),
  };
}

// ---------------------------------------------------------------- library

async function readWithLibrary(path: string, problems: string[], injectTypeError: boolean): Promise<LibraryResult> {
  let image: VhdxImage | null = null;
  let result: LibraryResult;
  try {
    if (injectTypeError) (null as unknown as { boom: () => void }).boom();
    image = await openVhdx(path);
    await readDisk(image);
    result = { ok: true, virtualSize: image.virtualSize };
  } catch (error) {
    result = refusal(error, "library", problems);
    if (image !== null) result = { ...result, opened: image.virtualSize };
  }
  try {
    await image?.close();
  } catch (error) {
    refusal(error, "library close", problems);
  }
  return result;
}

/** A VhdxError is a refusal; anything else is a problem. */
function refusal(error: unknown, where: string, problems: string[]): { ok: false; code?: string } {
  if (VhdxError.isInstance(error)) return { ok: false, code: error.code };
  problems.push(`${where}: ${describeError(error)}`);
  return { ok: false };
}

export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return `non-Error thrown: ${String(error)}`;
  const frame = error.stack
    ?.split("\n")
    .find((line) => STACK_LINE.test(line))
    ?.trim();
  return `${error.name}: ${error.message}${frame ? ` (${frame})` : ""}`;
}

/** Reads the whole disk (or, when huge, its ends and its allocated blocks) in chunks into one buffer. */
async function readDisk(image: VhdxImage): Promise<void> {
  const buffer = new Uint8Array(CHUNK);
  const size = image.virtualSize;
  const ranges = size <= FULL_READ_LIMIT ? [[0, size] as const] : await sampledRanges(image);
  for (const [start, length] of ranges) {
    for (let at = start; at < start + length; at += CHUNK) {
      const piece = Math.min(CHUNK, start + length - at);
      await image.readInto(buffer.subarray(0, piece), at);
    }
  }
}

async function sampledRanges(image: VhdxImage): Promise<Array<readonly [number, number]>> {
  const size = image.virtualSize;
  const ranges: Array<readonly [number, number]> = [
    [0, SAMPLE],
    [size - SAMPLE, SAMPLE],
  ];
  const bat = await image.bat();
  const blocks = Math.min(image.geometry.payloadBlockCount, 1 << 20);
  for (let block = 0; block < blocks && ranges.length < MAX_SAMPLED_BLOCKS + 2; block++) {
    if (bat.payloadState(block) >= 6) {
      const start = block * image.blockSize;
      ranges.push([start, Math.min(CHUNK, size - start)]);
    }
  }
  return ranges;
}

// ---------------------------------------------------------------- CLI

async function runCheck(path: string, problems: string[]): Promise<void> {
  const run = await cli(["check", "--json", path], path);
  judgeRun("check --json", run, problems);
  if (run.status <= 1 && run.stdoutComplete) {
    try {
      JSON.parse(run.stdout);
    } catch {
      problems.push(`check --json: exit status ${run.status} but stdout is not JSON: ${clip(run.stdout)}`);
    }
  }
}

/** `vhdx cat` for a disk of readable size; `vhdx read` of both ends for a huge one. */
async function runCat(path: string, library: LibraryResult, problems: string[]): Promise<void> {
  const huge = library.ok && library.virtualSize > FULL_READ_LIMIT;
  const runs = huge
    ? [
        ["read", "--length", String(SAMPLE), path],
        ["read", "--offset", String(library.virtualSize - SAMPLE), path],
      ]
    : [["cat", path]];
  for (const args of runs) {
    const run = await cli(args, path);
    const name = args.slice(0, -1).join(" ");
    judgeRun(name, run, problems);
    if (!library.ok) continue;
    const expected = huge ? SAMPLE : library.virtualSize;
    if (run.status !== 0) problems.push(`${name}: the library read the disk, but ${name} failed: ${clip(run.stderr)}`);
    else if (run.stdoutBytes !== expected)
      problems.push(`${name}: wrote ${run.stdoutBytes} bytes, the disk has ${expected}`);
  }
}

interface CliRun {
  status: number;
  stdout: string;
  stdoutBytes: number;
  stdoutComplete: boolean;
  stderr: string;
}

/** Refusals at a read that `--salvage` reads past. */
const SALVAGED_CODES = new Set(["CORRUPT_BAT", "CORRUPT_BITMAP"]);

/**
 * `vhdx cat --salvage` of a disk of readable size: the same as cat (status
 * 0) on a disk the library reads; the whole disk with status 3 on one whose
 * reads it refused for a BAT entry; otherwise only no crash.
 */
async function runSalvage(path: string, library: LibraryResult, problems: string[]): Promise<void> {
  const size = library.ok ? library.virtualSize : library.opened;
  if (size !== undefined && size > FULL_READ_LIMIT) return;
  const name = "cat --salvage";
  const run = await cli(["cat", "--salvage", path], path);
  judgeRun(name, run, problems, 3);
  const expected = library.ok ? 0 : size !== undefined && SALVAGED_CODES.has(library.code ?? "") ? 3 : null;
  if (expected === null) return;
  if (run.status !== expected)
    problems.push(`${name}: exit status ${run.status} where ${expected} was due: ${clip(run.stderr)}`);
  else if (run.stdoutBytes !== size) problems.push(`${name}: wrote ${run.stdoutBytes} bytes, the disk has ${size}`);
}

function judgeRun(name: string, run: CliRun, problems: string[], highestStatus = 2): void {
  if (!Number.isInteger(run.status) || run.status < 0 || run.status > highestStatus)
    problems.push(`${name}: exit status ${run.status}`);
  if (STACK_LINE.test(run.stderr)) problems.push(`${name}: stack trace on stderr: ${clip(run.stderr)}`);
  if (/\bINTERNAL\b/.test(run.stderr)) problems.push(`${name}: internal error: ${clip(run.stderr)}`);
  if (name.startsWith("check") && STACK_LINE.test(run.stdout))
    problems.push(`${name}: stack trace on stdout: ${clip(run.stdout)}`);
}

async function cli(args: string[], path: string): Promise<CliRun> {
  const stdout = new CountingSink(1 << 20);
  const stderr = new CountingSink(64 * 1024);
  let status: number;
  try {
    status = await runCli(args, { stdout, stderr, stdin: Readable.from([]), interactive: false, cwd: dirname(path) });
  } catch (error) {
    // runCli catches everything itself; reaching here is a crash of the command.
    stderr.write(`runCli threw: ${describeError(error)}\n`);
    status = -1;
  }
  return {
    status,
    stdout: stdout.text(),
    stdoutBytes: stdout.count,
    stdoutComplete: stdout.count <= stdout.limit,
    stderr: stderr.text(),
  };
}

/** A stream that counts what is written and keeps only the first `limit` bytes (cat's output is never buffered). */
class CountingSink extends Writable {
  count = 0;
  private readonly kept: Buffer[] = [];

  constructor(readonly limit: number) {
    super();
  }

  override _write(chunk: Buffer | string, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    const bytes = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    const room = this.limit - this.count;
    if (room > 0) this.kept.push(Buffer.from(bytes.subarray(0, room)));
    this.count += bytes.length;
    done();
  }

  text(): string {
    return Buffer.concat(this.kept).toString("utf8");
  }
}

function clip(text: string): string {
  const oneLine = text.trim().replace(/\s*\n\s*/g, " | ");
  return oneLine.length > 400 ? `${oneLine.slice(0, 400)}...` : oneLine;
}

function hashFile(path: string): string {
  try {
    return createHash("sha256").update(readFileSync(path)).digest("hex");
  } catch (error) {
    return `unreadable: ${(error as Error).message}`;
  }
}
