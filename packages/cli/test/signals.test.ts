// Ctrl-C, SIGTERM, SIGHUP and SIGKILL at random moments of the built
// command, run as a user runs it: new files (convert both ways, cat -o,
// read -o) are all or nothing, and in-place commands (write, compact) stop at
// a step boundary with a consistent image that holds what they say they did.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bin, ensureBuilt, oracle, run, vhdx } from "./harness.js";

const MiB = 1 << 20;
/** Dense data, so a copy takes a second or more even from the page cache. */
const BIG = 1024 * MiB;
const hasQemu = oracle("qemu-img");

let dir: string;
const file = (name: string) => join(dir, name);

beforeAll(() => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), "vhdx-signals-"));
  writeDense(file("big.raw"), BIG);
  const made = runToEnd(["convert", "big.raw", "big.vhdx"]);
  return made.then((outcome) => expect(outcome.code, outcome.stderr).toBe(0));
}, 180_000);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

// ------------------------------------------------------------ helpers

/** `size` bytes of random data, made quickly: one random piece written over and over, each copy stamped with its index. */
function writeDense(path: string, size: number, piece = 8 * MiB): void {
  const bytes = randomBytes(piece);
  const fd = openSync(path, "w");
  try {
    for (let at = 0; at < size; at += piece) {
      bytes.writeUInt32LE(at / piece, 0);
      writeSync(fd, bytes, 0, Math.min(piece, size - at), at);
    }
  } finally {
    closeSync(fd);
  }
}

interface Ended {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

interface Running {
  child: ChildProcess;
  ended: Promise<Ended>;
}

function start(args: string[], stdin: "ignore" | "pipe" = "ignore"): Running {
  const child = spawn(process.execPath, [bin, ...args], { cwd: dir, stdio: [stdin, "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const ended = new Promise<Ended>((resolve) => child.on("close", (code, signal) => resolve({ code, signal, stderr })));
  return { child, ended };
}

function runToEnd(args: string[]): Promise<Ended> {
  return start(args).ended;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `condition` holds; fails after `timeout` ms. */
async function waitFor(condition: () => boolean, what: string, timeout = 60_000): Promise<void> {
  const end = Date.now() + timeout;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** The temporary files of `destination` in the test folder. */
function partials(destination: string): string[] {
  return readdirSync(dir).filter((name) => name.startsWith(`${destination}.partial-`));
}

/**
 * Runs `vhdx ...args` writing `destination`, and sends `signal` at a random
 * moment (up to `spread` ms) after its temporary file appears, while it is
 * still there (the copy still under way).
 */
async function interruptOutput(
  args: string[],
  destination: string,
  signal: NodeJS.Signals,
  spread = 400,
): Promise<Ended> {
  const { child, ended } = start(args);
  await waitFor(() => partials(destination).length > 0, `${destination}.partial-*`);
  await sleep(Math.random() * spread);
  expect(partials(destination), "the command ended before the signal: make the input bigger").toHaveLength(1);
  child.kill(signal);
  return ended;
}

function expectNothingLeft(destination: string): void {
  expect(existsSync(file(destination))).toBe(false);
  expect(partials(destination)).toEqual([]);
}

// ------------------------------------------------------------ new files: all or nothing

describe("an interrupted command leaves no file behind", () => {
  it("convert raw to VHDX, Ctrl-C: exit 130, no DST, no temporary file", async () => {
    const ended = await interruptOutput(["convert", "big.raw", "out.vhdx"], "out.vhdx", "SIGINT");
    expect(ended.code, ended.stderr).toBe(130);
    expect(ended.stderr).toMatch(
      /^vhdx: interrupted \(SIGINT\): removed the unfinished copy; \S+out\.vhdx was left as it was\n$/,
    );
    expectNothingLeft("out.vhdx");
  }, 60_000);

  it("convert --json, Ctrl-C: the interruption is one JSON object on stderr", async () => {
    const ended = await interruptOutput(["convert", "--json", "big.raw", "json.vhdx"], "json.vhdx", "SIGINT");
    expect(ended.code, ended.stderr).toBe(130);
    const { error } = JSON.parse(ended.stderr);
    expect(error).toMatchObject({ code: "INTERRUPTED", signal: "SIGINT" });
    expect(error.message).toMatch(/^interrupted \(SIGINT\): removed the unfinished copy/);
    expectNothingLeft("json.vhdx");
  }, 60_000);

  it("convert VHDX to raw, SIGTERM: exit 143, no DST, no temporary file", async () => {
    const ended = await interruptOutput(["convert", "-O", "raw", "big.vhdx", "out.raw"], "out.raw", "SIGTERM");
    expect(ended.code, ended.stderr).toBe(143);
    expectNothingLeft("out.raw");
  }, 60_000);

  it("convert --force over an existing DST, Ctrl-C: the old DST is untouched", async () => {
    const old = randomBytes(3 * MiB + 17);
    for (const [args, name] of [
      [["convert", "--force", "big.raw", "old.vhdx"], "old.vhdx"],
      [["convert", "--force", "-O", "raw", "big.vhdx", "old.raw"], "old.raw"],
    ] as const) {
      writeFileSync(file(name), old);
      const ended = await interruptOutput([...args], name, "SIGINT");
      expect(ended.code, ended.stderr).toBe(130);
      expect(readFileSync(file(name)).equals(old), `${name} changed`).toBe(true);
      expect(partials(name)).toEqual([]);
    }
  }, 90_000);

  it("cat -o, SIGHUP, and read -o, Ctrl-C: exit 129 and 130, no file", async () => {
    const cat = await interruptOutput(["cat", "-o", "cat.raw", "big.vhdx"], "cat.raw", "SIGHUP");
    expect(cat.code, cat.stderr).toBe(129);
    expectNothingLeft("cat.raw");
    const read = await interruptOutput(["read", "--offset", "1M", "-o", "read.raw", "big.vhdx"], "read.raw", "SIGINT");
    expect(read.code, read.stderr).toBe(130);
    expectNothingLeft("read.raw");
  }, 90_000);

  it("a second Ctrl-C exits at once and still removes the temporary file", async () => {
    const { child, ended } = start(["convert", "big.raw", "twice.vhdx"]);
    await waitFor(() => partials("twice.vhdx").length > 0, "twice.vhdx.partial-*");
    child.kill("SIGINT");
    child.kill("SIGINT");
    const outcome = await ended;
    expect(outcome.code, outcome.stderr).toBe(130);
    expectNothingLeft("twice.vhdx");
  }, 60_000);

  it("SIGKILL leaves at most the temporary file, never DST", async () => {
    const ended = await interruptOutput(["convert", "big.raw", "killed.vhdx"], "killed.vhdx", "SIGKILL");
    expect(ended.signal).toBe("SIGKILL");
    expect(existsSync(file("killed.vhdx"))).toBe(false);
    const left = partials("killed.vhdx");
    expect(left.length).toBeLessThanOrEqual(1);
    for (const name of left) {
      expect(name).toMatch(/^killed\.vhdx\.partial-\d+-[0-9a-f]+$/);
      rmSync(file(name));
    }
  }, 60_000);

  it("a convert that fails (a corrupt BAT entry in SRC) leaves no DST and no temporary file", async () => {
    writeDense(file("small.raw"), 64 * MiB, MiB);
    expect((await runToEnd(["convert", "--block-size", "1M", "small.raw", "bad.vhdx"])).code).toBe(0);
    corruptBatEntry(file("bad.vhdx"), 40);
    for (const [args, name] of [
      [["convert", "bad.vhdx", "from-bad.vhdx"], "from-bad.vhdx"],
      [["convert", "-O", "raw", "bad.vhdx", "from-bad.raw"], "from-bad.raw"],
      [["cat", "-o", "from-bad.cat", "bad.vhdx"], "from-bad.cat"],
    ] as const) {
      const outcome = await runToEnd([...args]);
      expect(outcome.code, name).toBe(2);
      expect(outcome.stderr).toMatch(/^vhdx: CORRUPT_BAT: [^\n]+\n$/);
      expectNothingLeft(name);
    }
  }, 60_000);
});

describe("new files are made under a temporary name, in-process", () => {
  it("leaves no signal handlers behind once a command has run", async () => {
    const counts = () => ["SIGINT", "SIGTERM", "SIGHUP"].map((name) => process.listenerCount(name));
    const before = counts();
    writeDense(file("tiny.raw"), MiB, MiB);
    expect((await vhdx(["convert", "tiny.raw", "tiny.vhdx"], dir)).status).toBe(0);
    expect((await vhdx(["cat", "-o", "tiny.cat", "tiny.vhdx"], dir)).status).toBe(0);
    expect(readFileSync(file("tiny.cat")).equals(readFileSync(file("tiny.raw")))).toBe(true);
    expect(counts()).toEqual(before);
    expect(partials("tiny.vhdx")).toEqual([]);
  });

  it("create: a differencing child's relative parent path names the parent, and an existing FILE is refused untouched", async () => {
    expect((await vhdx(["create", "parent.vhdx", "8M"], dir)).status).toBe(0);
    expect((await vhdx(["create", "--parent", "parent.vhdx", "kid.vhdx"], dir)).status).toBe(0);
    const info = JSON.parse((await vhdx(["info", "--json", "kid.vhdx"], dir)).stdout) as {
      parentLocator: Record<string, string>;
    };
    expect(info.parentLocator.relative_path).toBe("parent.vhdx");
    const kept = readFileSync(file("kid.vhdx"));
    const again = await vhdx(["create", "kid.vhdx", "8M"], dir);
    expect(again.status).toBe(2);
    expect(again.stderr).toMatch(
      /^vhdx: INVALID_ARGUMENT: create: FILE \S+kid\.vhdx exists; vhdx create never replaces a file\n$/,
    );
    expect(readFileSync(file("kid.vhdx")).equals(kept)).toBe(true);
    expect(partials("kid.vhdx")).toEqual([]);
  });

  it("refuses a DST that is a folder, and -o to a device: redirect stdout there", async () => {
    const folder = await vhdx(["convert", "tiny.raw", "."], dir);
    expect(folder.stderr).toMatch(/^vhdx: INVALID_ARGUMENT: convert: DST \S+ is a folder\n$/);
    const device = await vhdx(["read", "-o", "/dev/null", "tiny.raw"], dir);
    expect(device.stderr).toMatch(
      /^vhdx: INVALID_ARGUMENT: read: -o \/dev\/null is not a regular file; write to stdout and redirect it there instead\n$/,
    );
  });
});

/** Points payload block `block`'s BAT entry (1 MiB blocks, so entry = block) far past the end of the file. */
function corruptBatEntry(path: string, block: number): void {
  const bytes = readFileSync(path);
  const batGuid = "6677c22d23f600429d64115e9bfd4a08";
  const regionTable = 0x30000;
  let batOffset = -1;
  for (let i = 0; i < bytes.readUInt32LE(regionTable + 8); i++) {
    const entry = regionTable + 16 + i * 32;
    if (bytes.subarray(entry, entry + 16).toString("hex") === batGuid)
      batOffset = Number(bytes.readBigUInt64LE(entry + 16));
  }
  expect(batOffset).toBeGreaterThan(0);
  const entry = Buffer.alloc(8);
  entry.writeBigUInt64LE((100_000n << 20n) | 6n); // FULLY_PRESENT at 100000 MiB
  const fd = openSync(path, "r+");
  writeSync(fd, entry, 0, 8, batOffset + block * 8);
  closeSync(fd);
}

// ------------------------------------------------------------ in place: stop at a step boundary

describe.skipIf(!hasQemu)("an interrupted in-place command leaves a consistent image holding what it reports", () => {
  it("write from a slow pipe, Ctrl-C: exit 130, says how much it wrote, and the image holds it", async () => {
    expect((await runToEnd(["create", "slow.vhdx", "64M"])).code).toBe(0);
    const { child, ended } = start(["write", "--offset", "1M", "slow.vhdx", "-"], "pipe");
    const stdin = child.stdin!;
    stdin.on("error", () => undefined); // the pipe closes under us once the command stops
    const sent: Buffer[] = [];
    let stopped = false;
    void ended.then(() => {
      stopped = true;
    });
    const feed = async () => {
      for (let i = 0; !stopped && i < 4000; i++) {
        const chunk = randomBytes(16 * 1024);
        sent.push(chunk);
        await new Promise<void>((resolve) => stdin.write(chunk, () => resolve()));
        await sleep(2);
      }
    };
    const feeding = feed();
    // Past the pipe's 64 KiB buffer, the command has read some input, so it is writing.
    await waitFor(() => sent.length > 64, "the command reading its input");
    await sleep(Math.random() * 500);
    child.kill("SIGINT");
    const outcome = await ended;
    await feeding;
    expect(outcome.code, outcome.stderr).toBe(130);
    const claim =
      /^vhdx: interrupted \(SIGINT\): wrote (\d+) bytes \([^)]*\) of the input at offset 1048576, the rest was not written; \S+slow\.vhdx was closed and is consistent\n$/.exec(
        outcome.stderr,
      );
    expect(claim, outcome.stderr).not.toBeNull();
    const written = Number(claim![1]);
    const input = Buffer.concat(sent);
    expect(written).toBeGreaterThan(0);
    expect(written).toBeLessThanOrEqual(input.length);
    run("qemu-img", ["check", "-f", "vhdx", file("slow.vhdx")]);
    expect((await runToEnd(["check", "slow.vhdx"])).code).toBe(0);
    run("qemu-img", ["convert", "-f", "vhdx", "-O", "raw", file("slow.vhdx"), file("slow.raw")]);
    const disk = readFileSync(file("slow.raw"));
    expect(disk.subarray(MiB, MiB + written).equals(input.subarray(0, written))).toBe(true);
  }, 90_000);

  it("compact, Ctrl-C between blocks: exit 130, the image checks clean and reads as before", async () => {
    // Every other 1 MiB block allocated but all zeros: compact frees those and moves the others down.
    const raw = file("holes.raw");
    const size = 512 * MiB;
    writeDense(raw, size, MiB);
    const fd = openSync(raw, "r+");
    const zeros = Buffer.alloc(MiB);
    for (let at = MiB; at < size; at += 2 * MiB) writeSync(fd, zeros, 0, MiB, at);
    closeSync(fd);
    const image = file("holes.vhdx");
    run("qemu-img", [
      "convert",
      "-S",
      "0",
      "-f",
      "raw",
      "-O",
      "vhdx",
      "-o",
      "subformat=dynamic,block_size=1M",
      raw,
      image,
    ]);
    const before = statSync(image).mtimeMs;
    const { child, ended } = start(["compact", "holes.vhdx"]);
    // The first change of a session (the header update) marks the command at work.
    await waitFor(() => statSync(image).mtimeMs !== before, "compact to start writing");
    await sleep(Math.random() * 300);
    child.kill("SIGINT");
    const outcome = await ended;
    expect(outcome.code, outcome.stderr).toBe(130);
    expect(outcome.stderr).toMatch(
      /^vhdx: interrupted \(SIGINT\): (stopped after|the compaction had finished)[^\n]*\n$/,
    );
    run("qemu-img", ["check", "-f", "vhdx", image]);
    expect((await runToEnd(["check", "holes.vhdx"])).code).toBe(0);
    run("qemu-img", ["compare", "-f", "vhdx", "-F", "raw", image, raw]);
  }, 120_000);
});
