// vhdx convert of a sparse raw file reads its data, not its holes: SEEK_DATA
// through @vhdx/image's addon. Counted with strace (the bytes pread64
// returned), never timed; libvhdi reads the data back from the output and
// qemu-img checks it. VHDX_SEEK_DATA=0 (no addon) reads every byte and writes
// the same disk. vhdx compare skips the holes the same way.
import { spawnSync } from "node:child_process";
import {
  closeSync,
  ftruncateSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pyvhdiRead } from "@vhdx-tools/oracles";
import { bin, ensureBuilt, oracle, run } from "./harness.js";

const MiB = 1 << 20;
const GiB = 1 << 30;
const hasOracles = oracle("qemu-img") && oracle("pyvhdi");
const hasStrace = spawnSync("strace", ["-V"]).status === 0;
if (!hasStrace && process.env.CI) {
  throw new Error("strace is missing in CI (apt-get install strace): a missing tool in CI is a failure, not a skip");
}

let dir: string;
const file = (name: string) => join(dir, name);

/** A sparse raw file of `size` bytes holding 1 MiB of pseudo-random data at each of `offsets`. */
function sparseRaw(path: string, size: number, offsets: number[]): void {
  const fd = openSync(path, "w");
  ftruncateSync(fd, size);
  let state = 11;
  for (const offset of offsets) {
    const piece = Buffer.alloc(MiB);
    for (let i = 0; i < piece.length; i++) {
      state = (state * 1103515245 + 12345) >>> 0;
      piece[i] = state >>> 24;
    }
    writeSync(fd, piece, 0, piece.length, offset);
  }
  closeSync(fd);
}

/** Runs the built command under strace; returns the bytes its pread64 calls returned, in all. */
function bytesRead(args: string[], env: NodeJS.ProcessEnv = {}): number {
  const trace = file(`trace-${Math.random().toString(16).slice(2)}.txt`);
  const result = spawnSync(
    "strace",
    ["-f", "-qq", "-o", trace, "-e", "trace=pread64,read", process.execPath, bin, ...args],
    {
      cwd: dir,
      encoding: "utf8",
      env: { ...process.env, ...env },
    },
  );
  expect(result.stderr).toBe("");
  expect(result.status).toBe(0);
  let total = 0;
  for (const line of readFileSync(trace, "utf8").split("\n")) {
    // A call another thread interrupts is split in two lines: "pread64(... <unfinished ...>" and "<... pread64 resumed>... = N".
    const returned = /^\d+\s+(?:p?read(?:64)?\(|<\.\.\. p?read(?:64)? resumed>).*\)\s+=\s+(\d+)$/.exec(line);
    if (returned) total += Number(returned[1]);
  }
  return total;
}

/** The MiB at `offset` of the file at `path`. */
function piece(path: string, offset: number): Buffer {
  const fd = openSync(path, "r");
  try {
    const bytes = Buffer.alloc(MiB);
    readSync(fd, bytes, 0, MiB, offset);
    return bytes;
  } finally {
    closeSync(fd);
  }
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "vhdx-convert-holes-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!hasOracles || !hasStrace || process.platform !== "linux")("vhdx convert of a sparse raw file", () => {
  beforeAll(ensureBuilt, 120_000);
  const offsets = [0, 5 * GiB + 3 * MiB, 100 * GiB, 256 * GiB - MiB];

  it("reads only the data of a 256 GiB file holding 4 MiB; libvhdi reads the same disk from it", () => {
    sparseRaw(file("huge.raw"), 256 * GiB, offsets);
    const read = bytesRead(["convert", "--block-size", "1M", "huge.raw", "huge.vhdx"]);
    expect(read).toBeGreaterThanOrEqual(4 * MiB);
    expect(read).toBeLessThan(64 * MiB);
    // QEMU's VHDX driver reports every block as data and reads all 256 GiB to compare: libvhdi reads the four pieces,
    // and the file's size shows nothing else was allocated (a dynamic image's other blocks read as zeros).
    const ranges = offsets.map((offset) => [offset, MiB] as const);
    const expected = Buffer.concat(offsets.map((offset) => piece(file("huge.raw"), offset)));
    // equals(), not toEqual(): vitest compares 4 MiB buffers element by element, for seconds.
    expect(Buffer.from(pyvhdiRead(file("huge.vhdx"), ranges)).equals(expected)).toBe(true);
    expect(statSync(file("huge.vhdx")).size).toBeLessThan(4 * MiB + 8 * MiB);
    expect(run("qemu-img", ["check", "-f", "vhdx", file("huge.vhdx")])).toMatch(/No errors were found/);
  }, 120_000);

  it("compares a sparse raw file with its VHDX reading the data only, and finds a byte written into a hole", () => {
    // huge.raw and huge.vhdx from the test above.
    expect(bytesRead(["compare", "huge.raw", "huge.vhdx"])).toBeLessThan(64 * MiB);
    const fd = openSync(file("huge.raw"), "r+");
    writeSync(fd, Uint8Array.of(1), 0, 1, 200 * GiB + 4097);
    closeSync(fd);
    const result = spawnSync(process.execPath, [bin, "compare", "huge.raw", "huge.vhdx"], {
      cwd: dir,
      encoding: "utf8",
    });
    expect(result.stdout).toMatch(`Content mismatch at offset ${200 * GiB + 4096}!`);
    expect(result.status).toBe(1);
  }, 120_000);

  it("writes the same disk without the addon, reading every byte (VHDX_SEEK_DATA=0)", () => {
    sparseRaw(file("small.raw"), GiB / 4, [0, 64 * MiB + 4096, GiB / 4 - MiB]);
    const withHoles = bytesRead(["convert", "-O", "raw", "small.raw", "with.raw"]);
    const without = bytesRead(["convert", "-O", "raw", "small.raw", "without.raw"], { VHDX_SEEK_DATA: "0" });
    expect(withHoles).toBeLessThan(16 * MiB);
    expect(without).toBeGreaterThanOrEqual(GiB / 4);
    expect(readFileSync(file("with.raw")).equals(readFileSync(file("small.raw")))).toBe(true);
    expect(readFileSync(file("without.raw")).equals(readFileSync(file("small.raw")))).toBe(true);
  }, 120_000);
});
