// A real writer process killed with SIGKILL in the middle of its write loop
// (test/sigkill-writer.mjs, running the BUILT package). Afterwards every write
// up to the last flush the child reported must be there; a later write may be
// there, wholly or partly, or not at all. Opening read-only replays the log in
// memory without touching the file; opening read-write replays it into the
// file; both must read the same; after our close the file is clean for
// `qemu-img check` and QEMU reads what we read. Where the log cannot have
// wrapped (QEMU's log search is wrong for wrapped logs, see VHDX-NOTES.md),
// QEMU's own replay of a copy of the killed file must give the same disk.
// A differencing child (sector bitmaps through the log) is killed too.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { STATE, buildVhdx } from "@vhdx-tools/fixtures";
import { openVhdx } from "../src/node/index.js";
import { oracles, qemuCheck, qemuConvertToRaw, qemuCreate, run, tempDir } from "@vhdx-tools/oracles";

const MiB = 1 << 20;
const NIL = "00000000-0000-0000-0000-000000000000";
const TEST_DIR = dirname(fileURLToPath(import.meta.url));
const PACKAGE_DIR = dirname(TEST_DIR);
const WRITER = join(TEST_DIR, "sigkill-writer.mjs");
const DIST_NODE = join(PACKAGE_DIR, "dist", "node.js");
const VIRTUAL_SIZE = 256 * MiB;
const FLUSH_EVERY = 8;
/** Each test runs a child to hundreds of fdatasyncs and reads 256 MiB a few times: room for slow disks. */
const TEST_TIMEOUT = 150_000;

interface WriterModule {
  WRITE_LENGTH: number;
  plannedOffset(seed: number, i: number, virtualSize: number): number;
  patternFor(seed: number, i: number, length?: number): Uint8Array;
}
// A non-literal specifier: the plain .mjs has no type declarations.
const writerUrl: string = pathToFileURL(WRITER).href;
let writer: WriterModule;

const dir = tempDir("vhdx-sigkill-");
const children: ChildProcess[] = [];

beforeAll(async () => {
  writer = (await import(writerUrl)) as WriterModule;
  // The child runs dist/: build it when it is missing (turbo's test task builds first otherwise).
  if (!existsSync(DIST_NODE)) {
    execFileSync("npx", ["tsup"], { cwd: PACKAGE_DIR, stdio: "pipe", timeout: 180_000 });
  } else {
    const newestSource = newestMtime(join(PACKAGE_DIR, "src"));
    if (newestSource > statSync(DIST_NODE).mtimeMs) {
      console.warn(
        `write-sigkill: dist/node.js is older than src/; the child runs the built code (run \`npx tsup\` in packages/image)`,
      );
    }
  }
}, 200_000);

afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  dir.remove();
});

function newestMtime(path: string): number {
  let newest = 0;
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    const full = join(path, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : statSync(full).mtimeMs);
  }
  return newest;
}

interface ChildState {
  /** "flushed i" lines so far. */
  flushed: number;
  /** The line just read. */
  line: string;
}

interface KillResult {
  /** Last iteration covered by a reported flush (-1: none). */
  lastFlushed: number;
  /** Last iteration whose write had started (its "write i" line was printed). */
  lastStarted: number;
  /** How many flushes began ("flushing" lines): a bound on the log entries written. */
  flushesBegun: number;
  stdout: string;
}

/** Runs the writer on `path` and SIGKILLs it when `killWhen` first says so. */
function runAndKill(path: string, seed: number, killWhen: (state: ChildState) => boolean): Promise<KillResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRITER, path, String(seed), String(FLUSH_EVERY)], {
      cwd: PACKAGE_DIR,
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.push(child);
    let stdout = "";
    let stderr = "";
    let pending = "";
    let killed = false;
    const state: ChildState = { flushed: 0, line: "" };
    const watchdog = setTimeout(() => {
      child.kill("SIGKILL");
      reject(
        new Error(
          `the writer was not killed within 60 s (seed ${seed}); stdout tail:\n${stdout.slice(-500)}\nstderr:\n${stderr}`,
        ),
      );
    }, 60_000);
    child.stdout!.setEncoding("utf8");
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (text: string) => {
      stderr += text;
    });
    child.stdout!.on("data", (text: string) => {
      stdout += text;
      if (killed) return;
      pending += text;
      const lines = pending.split("\n");
      pending = lines.pop()!;
      for (const line of lines) {
        if (line.startsWith("flushed ")) state.flushed++;
        state.line = line;
        if (killWhen(state)) {
          killed = child.kill("SIGKILL");
          return;
        }
      }
    });
    child.on("error", (error) => {
      clearTimeout(watchdog);
      reject(error);
    });
    child.on("close", (code, signal) => {
      clearTimeout(watchdog);
      if (signal !== "SIGKILL" || !killed) {
        reject(
          new Error(
            `the writer ended by itself (code ${code}, signal ${signal}) before the kill (seed ${seed})\nstderr:\n${stderr}`,
          ),
        );
        return;
      }
      const lines = stdout.split("\n");
      const last = (prefix: string) => {
        for (let k = lines.length - 1; k >= 0; k--)
          if (lines[k]!.startsWith(prefix)) return Number(lines[k]!.slice(prefix.length));
        return -1;
      };
      resolve({
        lastFlushed: last("flushed "),
        lastStarted: last("write "),
        flushesBegun: lines.filter((line) => line.startsWith("flushing ")).length,
        stdout,
      });
    });
  });
}

/** The disk after every write up to `lastFlushed`, in order, over `before` (zeros when null). */
function durableModel(seed: number, lastFlushed: number, before: Uint8Array | null): Uint8Array {
  const model = before === null ? new Uint8Array(VIRTUAL_SIZE) : before.slice();
  for (let i = 0; i <= lastFlushed; i++)
    model.set(writer.patternFor(seed, i), writer.plannedOffset(seed, i, VIRTUAL_SIZE));
  return model;
}

/**
 * Every byte must be what the flushed writes left there, or what some write
 * started after the last flush put there (those may be lost, torn or whole).
 */
function checkDurability(
  actual: Uint8Array,
  seed: number,
  result: KillResult,
  before: Uint8Array | null,
  what: string,
): void {
  const { lastFlushed, lastStarted } = result;
  const model = durableModel(seed, lastFlushed, before);
  const explained = new Uint8Array(VIRTUAL_SIZE);
  for (let i = lastFlushed + 1; i <= lastStarted; i++) {
    const offset = writer.plannedOffset(seed, i, VIRTUAL_SIZE);
    const data = writer.patternFor(seed, i);
    for (let k = 0; k < data.length; k++) if (actual[offset + k] === data[k]) explained[offset + k] = 1;
  }
  const SLICE = 64 * 1024;
  for (let base = 0; base < VIRTUAL_SIZE; base += SLICE) {
    const end = base + SLICE;
    if (Buffer.compare(actual.subarray(base, end), model.subarray(base, end)) === 0) continue;
    for (let p = base; p < end; p++) {
      if (actual[p] === model[p] || explained[p]) continue;
      throw new Error(
        `${what} (seed ${seed}, last flushed iteration ${lastFlushed}, last started ${lastStarted}): ` +
          `byte at virtual offset ${p} is 0x${actual[p]!.toString(16)}; the flushed writes left 0x${model[p]!.toString(16)} ` +
          `(written by ${writersOf(seed, p, lastFlushed).join(", ") || "no flushed write of this run"}), and no later write puts 0x${actual[p]!.toString(16)} there`,
      );
    }
  }
}

function writersOf(seed: number, position: number, upTo: number): string[] {
  const out: string[] = [];
  for (let i = 0; i <= upTo; i++) {
    const offset = writer.plannedOffset(seed, i, VIRTUAL_SIZE);
    if (position >= offset && position < offset + writer.WRITE_LENGTH) out.push(`iteration ${i}`);
  }
  return out;
}

function sha256(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

function sameBytes(a: Uint8Array, b: Uint8Array, what: string): void {
  if (a.length === b.length && Buffer.compare(a, b) === 0) return;
  let at = 0;
  while (at < Math.min(a.length, b.length) && a[at] === b[at]) at++;
  throw new Error(`${what}: lengths ${a.length} and ${b.length}, first difference at ${at}`);
}

/**
 * The log entries in the ring carrying the current header's LogGuid: the
 * highest sequence number (0n: none), and whether the ring has wrapped.
 */
function logState(path: string): { sequence: bigint; logLength: number; wrapped: boolean } {
  const file = new Uint8Array(readFileSync(path));
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const ascii = (at: number) => Buffer.from(file.subarray(at, at + 4)).toString("latin1");
  const header = [64 * 1024, 128 * 1024]
    .filter((offset) => ascii(offset) === "head")
    .sort((a, b) => (view.getBigUint64(a + 8, true) > view.getBigUint64(b + 8, true) ? -1 : 1))[0]!;
  const logGuid = file.subarray(header + 48, header + 64);
  const logLength = view.getUint32(header + 68, true);
  const logOffset = Number(view.getBigUint64(header + 72, true));
  const entries: Array<{ at: number; sequence: bigint }> = [];
  for (let at = 0; at < logLength; at += 4096) {
    if (
      ascii(logOffset + at) !== "loge" ||
      Buffer.compare(file.subarray(logOffset + at + 32, logOffset + at + 48), logGuid) !== 0
    )
      continue;
    entries.push({ at, sequence: view.getBigUint64(logOffset + at + 16, true) });
  }
  // Sessions here start at ring offset 0 with sequence 1: the ring has wrapped when entry 1 is gone
  // (overwritten), when sequences do not grow in ring order, or when the newest entry runs past the end.
  const newest = entries.reduce<{ at: number; sequence: bigint } | null>(
    (best, e) => (best === null || e.sequence > best.sequence ? e : best),
    null,
  );
  const wrapped =
    newest !== null &&
    (!entries.some((e) => e.sequence === 1n) ||
      entries.some((e, i) => i > 0 && e.sequence < entries[i - 1]!.sequence) ||
      newest.at + view.getUint32(logOffset + newest.at + 8, true) > logLength);
  return { sequence: newest?.sequence ?? 0n, logLength, wrapped };
}

interface Timing {
  name: string;
  seed: number;
  killWhen(state: ChildState): boolean;
}

const TIMINGS: Timing[] = [
  // As soon as the fifth flush is reported: between writes, early in the session.
  { name: "right after the 5th reported flush", seed: 0x5eed0001, killWhen: (s) => s.flushed >= 5 },
  // When a flush begins (data fdatasync, log entry, BAT in place, more flushes under way).
  {
    name: "as a flush begins, after 8 reported flushes",
    seed: 0x5eed0002,
    killWhen: (s) => s.flushed >= 8 && s.line.startsWith("flushing "),
  },
  // Much later, as a write begins: by then most blocks are allocated and most flushes have no BAT change to log.
  {
    name: "late, as a write begins, after 200 reported flushes (most blocks allocated, most flushes log nothing)",
    seed: 0x5eed0003,
    killWhen: (s) => s.flushed >= 200 && s.line.startsWith("write ") && Number(s.line.slice(6)) % FLUSH_EVERY === 3,
  },
];

/**
 * The killed file as our read-only open sees it (log replayed in memory, file
 * untouched), after checking it against the writes the child reported.
 * `before` is the disk the child started from (zeros for a new image).
 */
async function replayedAfterKill(
  path: string,
  seed: number,
  result: KillResult,
  before: Uint8Array | null,
  where: string,
) {
  const copy = `${path}.qemu-copy.vhdx`; // kept for QEMU's own replay
  copyFileSync(path, copy);
  const killedHash = sha256(path);
  const log = logState(path);
  expect(log.sequence, `${where}: no log entry of the killed session`).toBeGreaterThan(0n);

  const readOnly = await openVhdx(path);
  expect(readOnly.logGuid, `${where}: the killed session's LogGuid`).not.toBe(NIL);
  expect(readOnly.needsReplay).toBe(true);
  expect(readOnly.logReplay).toBe("memory");
  const replayed = await readOnly.read(0, VIRTUAL_SIZE);
  await readOnly.close();
  expect(sha256(path), `${where}: a read-only open wrote to the file`).toBe(killedHash);
  checkDurability(replayed, seed, result, before, `read-only open, ${where}`);
  return { replayed, copy, log };
}

/**
 * Replays on disk with a read-write open, writes a little more in the same
 * session (the first session after a replay), closes, and has QEMU check and
 * read the result; QEMU's own replay of the killed copy must agree with ours
 * where the log has not wrapped (VHDX-NOTES.md: QEMU's log search is wrong
 * for wrapped logs).
 */
async function replayWriteAndCheck(
  path: string,
  killed: Awaited<ReturnType<typeof replayedAfterKill>>,
  where: string,
): Promise<Uint8Array> {
  const { replayed, copy, log } = killed;
  const image = await openVhdx(path, { readOnly: false });
  expect(image.logReplay).toBe("disk");
  expect(image.logGuid).toBe(NIL);
  sameBytes(
    await image.read(0, VIRTUAL_SIZE),
    replayed,
    `${where}: read-write open (replayed on disk) vs read-only open (in memory)`,
  );
  const expected = replayed.slice();
  const more: Array<[number, Uint8Array]> = [
    [5000, new Uint8Array(70_000).fill(0xe1)],
    [128 * MiB - 30_000, new Uint8Array(60_000).fill(0xe2)],
    [VIRTUAL_SIZE - 12_345, new Uint8Array(12_345).fill(0xe3)],
  ];
  for (const [offset, data] of more) {
    await image.write(offset, data);
    expected.set(data, offset);
  }
  await image.writeZeroes(100 * MiB, MiB);
  expected.fill(0, 100 * MiB, 101 * MiB);
  await image.flush();
  sameBytes(await image.read(0, VIRTUAL_SIZE), expected, `${where}: after writing more in the session that replayed`);
  await image.close();

  const reopened = await openVhdx(path);
  expect(reopened.logGuid).toBe(NIL);
  expect(reopened.needsReplay).toBe(false);
  sameBytes(await reopened.read(0, VIRTUAL_SIZE), expected, `${where}: reopened after the replay`);
  await reopened.close();

  qemuCheck(path);
  const raw = `${path}.raw`;
  qemuConvertToRaw(path, raw);
  sameBytes(new Uint8Array(readFileSync(raw)), expected, `${where}: qemu-img convert after our replay and writes`);

  if (!log.wrapped) {
    run("qemu-img", ["check", "-r", "all", "-f", "vhdx", copy]);
    qemuCheck(copy);
    const rawCopy = `${copy}.raw`;
    qemuConvertToRaw(copy, rawCopy);
    sameBytes(new Uint8Array(readFileSync(rawCopy)), replayed, `${where}: QEMU's replay vs ours`);
  }
  return expected;
}

function describeKill(seed: number, name: string, result: KillResult): string {
  return `seed ${seed} (${name}): flushed through ${result.lastFlushed}, started ${result.lastStarted}, ${result.flushesBegun} flushes begun`;
}

describe.skipIf(!oracles("qemu-img", "qemu-io"))("a writer killed with SIGKILL mid-loop", () => {
  for (const timing of TIMINGS) {
    it(
      `killed ${timing.name}`,
      async () => {
        const path = dir.file(`killed-${timing.seed.toString(16)}.vhdx`);
        qemuCreate(path, { size: VIRTUAL_SIZE, subformat: "dynamic", blockSize: MiB });
        const result = await runAndKill(path, timing.seed, timing.killWhen);
        const where = describeKill(timing.seed, timing.name, result);
        expect(result.lastFlushed, where).toBeGreaterThanOrEqual(5 * FLUSH_EVERY - 1);
        expect(result.lastStarted, where).toBeGreaterThanOrEqual(result.lastFlushed);
        const killed = await replayedAfterKill(path, timing.seed, result, null, where);
        await replayWriteAndCheck(path, killed, where);
      },
      TEST_TIMEOUT,
    );
  }

  it(
    "killed twice: the second writer replays the first one's log, writes a new session, and is killed in turn",
    async () => {
      const path = dir.file("killed-twice.vhdx");
      qemuCreate(path, { size: VIRTUAL_SIZE, subformat: "dynamic", blockSize: MiB });
      const [seed1, seed2] = [0x5eed0011, 0x5eed0012];
      const first = await runAndKill(path, seed1, (s) => s.flushed >= 6 && s.line.startsWith("write "));
      const where1 = describeKill(seed1, "first kill", first);
      const { replayed: afterFirst } = await replayedAfterKill(path, seed1, first, null, where1);

      // The second child opens read-write: it replays the first session's log on disk, then writes with a new LogGuid.
      const second = await runAndKill(path, seed2, (s) => s.flushed >= 5 && s.line.startsWith("flushing "));
      const where2 = describeKill(seed2, "second kill", second);
      const killed = await replayedAfterKill(path, seed2, second, afterFirst, where2);
      await replayWriteAndCheck(path, killed, where2);
    },
    TEST_TIMEOUT,
  );
});

// No QEMU here: QEMU opens no differencing images.
describe("a differencing child killed with SIGKILL", () => {
  it(
    "a differencing child (sector bitmap pages through the log, the ring wrapped) killed as a flush begins",
    async () => {
      // The child script finds the parent through relative_path, beside the child.
      const chainDir = dir.file("chain");
      mkdirSync(chainDir);
      const parentBlocks: Record<number, { state: number }> = {};
      for (let b = 0; b < 256; b += 3) parentBlocks[b] = { state: STATE.FULLY_PRESENT };
      const parent = buildVhdx({ virtualSize: VIRTUAL_SIZE, blockSize: MiB, type: "dynamic", blocks: parentBlocks });
      const child = buildVhdx(
        {
          virtualSize: VIRTUAL_SIZE,
          blockSize: MiB,
          type: "differencing",
          parent: { dataWriteGuid: parent.dataWriteGuid, paths: { relative_path: ".\\parent.vhdx" } },
        },
        parent,
      );
      const parentPath = join(chainDir, "parent.vhdx");
      const path = join(chainDir, "child.vhdx");
      writeFileSync(parentPath, parent.bytes);
      writeFileSync(path, child.bytes);
      const parentHash = sha256(parentPath);
      const before = parent.expected;

      const seed = 0x5eed0021;
      // Every flush logs at least one entry of at least 8 KiB (a descriptor sector and a sector bitmap page):
      // after 140 of them the 1 MiB ring has wrapped.
      const result = await runAndKill(path, seed, (s) => s.flushed >= 140 && s.line.startsWith("flushing "));
      const where = describeKill(seed, "differencing child", result);
      expect(result.lastFlushed, where).toBeGreaterThanOrEqual(140 * FLUSH_EVERY - 1);
      const log = logState(path);
      expect(log.sequence, `${where}: no log entry`).toBeGreaterThan(0n);
      expect(log.wrapped, `${where}: expected the log to have wrapped (highest sequence ${log.sequence})`).toBe(true);

      // Read-write first here (the read-only open of a differencing child with a log is checked last, on a copy).
      const copy = join(chainDir, "child-killed-copy.vhdx");
      copyFileSync(path, copy);
      const killedHash = sha256(copy);
      const image = await openVhdx(path, { readOnly: false });
      expect(image.diskType).toBe("differencing");
      expect(image.logReplay).toBe("disk");
      const replayed = await image.read(0, VIRTUAL_SIZE);
      checkDurability(replayed, seed, result, before, `read-write open, ${where}`);
      const expected = replayed.slice();
      // More partial-sector writes in the session that replayed, in blocks with and without sectors present.
      for (const [offset, value, length] of [
        [7, 0xf1, 1000],
        [3 * MiB + 511, 0xf2, 3000],
        [200 * MiB + 100, 0xf3, 2 * MiB],
      ] as const) {
        await image.write(offset, new Uint8Array(length).fill(value));
        expected.fill(value, offset, offset + length);
      }
      await image.discard(150 * MiB, MiB); // back to the parent
      expected.set(before.subarray(150 * MiB, 151 * MiB), 150 * MiB);
      await image.close();

      const reopened = await openVhdx(path);
      expect(reopened.logGuid).toBe(NIL);
      sameBytes(await reopened.read(0, VIRTUAL_SIZE), expected, `${where}: reopened after replay and more writes`);
      await reopened.close();
      expect(sha256(parentPath), "the parent file changed").toBe(parentHash);

      // The killed file opened read-only: replayed in memory, the parent found through the locator, the same disk.
      const readOnly = await openVhdx(copy);
      expect(readOnly.needsReplay).toBe(true);
      sameBytes(
        await readOnly.read(0, VIRTUAL_SIZE),
        replayed,
        `${where}: read-only open (replayed in memory) vs read-write open (replayed on disk)`,
      );
      await readOnly.close();
      expect(sha256(copy), `${where}: a read-only open wrote to the file`).toBe(killedHash);
    },
    TEST_TIMEOUT,
  );
});

describe("a differencing child left with a log to replay", () => {
  it("opens read-only by path: the log is replayed in memory and the parent is still found through the locator", async () => {
    const chainDir = dir.file("pending-log");
    mkdirSync(chainDir);
    const parent = buildVhdx({
      virtualSize: 8 * MiB,
      blockSize: MiB,
      type: "dynamic",
      blocks: { 0: { state: STATE.FULLY_PRESENT } },
    });
    const child = buildVhdx(
      {
        virtualSize: 8 * MiB,
        blockSize: MiB,
        type: "differencing",
        parent: { dataWriteGuid: parent.dataWriteGuid, paths: { relative_path: ".\\parent.vhdx" } },
      },
      parent,
    );
    writeFileSync(join(chainDir, "parent.vhdx"), parent.bytes);
    writeFileSync(join(chainDir, "child.vhdx"), child.bytes);
    const image = await openVhdx(join(chainDir, "child.vhdx"), { readOnly: false });
    await image.write(100, new Uint8Array(1000).fill(0x42));
    await image.flush(); // the new block's BAT entry and bitmap went through the log: LogGuid is set
    copyFileSync(join(chainDir, "child.vhdx"), join(chainDir, "crashed.vhdx")); // the file as a crash leaves it
    await image.close();

    const expected = parent.expectedAt(0, 2 * MiB);
    expected.fill(0x42, 100, 1100);
    const crashed = join(chainDir, "crashed.vhdx");
    const hash = sha256(crashed);
    const readOnly = await openVhdx(crashed);
    expect(readOnly.needsReplay).toBe(true);
    expect(readOnly.parent?.dataWriteGuid).toBe(parent.dataWriteGuid);
    sameBytes(await readOnly.read(0, 2 * MiB), expected, "read-only open of a child with a log to replay");
    await readOnly.close();
    expect(sha256(crashed)).toBe(hash);
  });
});
