// The crash tests of the conformance suite, short profile: every workload,
// power cut at a sample of its write and flush boundaries in every mode, must
// leave files that open, replay, follow the model and pass `vhdx check` and
// `qemu-img check`. The second half proves each of those checks can fail.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { oracle } from "@vhdx-tools/oracles";
import { MemorySource, type RandomAccessSource, openImage } from "@vhdx/image";
import { FaultInjectingSource } from "@vhdx/image/testing";
import {
  CRASH_WORKLOADS,
  POWER_CUT_MODES,
  type CrashWorkload,
  type CrashWorkloadName,
  SHORT_PROFILE_CUTS,
  buildWorkload,
  cutPoints,
  prepareCheckFolder,
  runCrashTests,
  verifySurvivor,
} from "../src/crash/index.js";
import { qemuReplayProblem } from "../src/crash/checkers.js";
import { runSteps } from "../src/crash/run-steps.js";

const SEED = Number(process.env.VHDX_CRASH_SEED ?? 1);
/** Throws in CI when qemu-img is missing. */
const QEMU = oracle("qemu-img");
const QEMU_WORKLOADS: readonly CrashWorkloadName[] = ["writes", "resize", "compact", "merge"];
const _MiB = 1 << 20;

describe(`power cuts in every crash workload (short profile, seed ${SEED})`, () => {
  const ran = new Set<string>();

  it.each(CRASH_WORKLOADS.map((name) => [name]))(
    "%s: every reopened image is consistent and holds every flushed write",
    async (name) => {
      const summary = await runCrashTests({ seed: SEED, profile: "short", qemuCheck: QEMU, workloads: [name] });
      expect(summary.failures.map((f) => `#${f.cutPoint} ${f.mode}: ${f.problem}`)).toEqual([]);
      expect(summary.workloads).toEqual([name]);
      expect(summary.cuts).toBeGreaterThanOrEqual(SHORT_PROFILE_CUTS * POWER_CUT_MODES.length);
      if (QEMU && QEMU_WORKLOADS.includes(name)) expect(summary.qemuChecked).toBeGreaterThan(0);
      for (const workload of summary.workloads) ran.add(workload);
    },
    120_000,
  );

  it("ran every workload", () => {
    expect([...ran].sort()).toEqual([...CRASH_WORKLOADS].sort());
  });
});

describe("cut points", () => {
  it("takes every point in the full profile and in short workloads", () => {
    expect(cutPoints(500, "full", 1)).toEqual(Array.from({ length: 501 }, (_, i) => i));
    expect(cutPoints(SHORT_PROFILE_CUTS - 1, "short", 1)).toHaveLength(SHORT_PROFILE_CUTS);
  });

  it("samples long workloads in the short profile: sorted, first and last kept, the same for the same seed", () => {
    const points = cutPoints(622, "short", 7);
    expect(points.length).toBeLessThanOrEqual(SHORT_PROFILE_CUTS);
    expect(points.length).toBeGreaterThan(SHORT_PROFILE_CUTS / 2);
    expect(points[0]).toBe(0);
    expect(points[points.length - 1]).toBe(622);
    expect([...points].sort((a, b) => a - b)).toEqual(points);
    expect(cutPoints(622, "short", 7)).toEqual(points);
  });
});

describe("the checks catch what they are there for", () => {
  let dir: string;
  const workloads = new Map<CrashWorkloadName, CrashWorkload>();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "vhdx-crash-test-"));
    for (const name of ["writes", "resize", "merge"] as const) workloads.set(name, await buildWorkload(name, SEED));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const workload = (name: CrashWorkloadName) => workloads.get(name)!;
  const lastStep = (w: CrashWorkload) => w.steps.length - 1;

  async function verify(
    w: CrashWorkload,
    bytes: Uint8Array,
    lastDone: number,
    qemu = false,
    expected?: Uint8Array,
  ): Promise<string[]> {
    await prepareCheckFolder(dir, w);
    const { problems } = await verifySurvivor(w, { bytes, lastDone }, { dir, qemu, ...(expected ? { expected } : {}) });
    return problems;
  }

  /** The file after the whole workload, with no fault. */
  async function finished(w: CrashWorkload): Promise<Uint8Array> {
    const source = new MemorySource(w.file.slice());
    expect((await runSteps(source, w.steps, w)).error).toBeNull();
    return source.bytes().slice();
  }

  it("passes the file the whole workload leaves", async () => {
    const w = workload("writes");
    expect(await verify(w, await finished(w), lastStep(w), QEMU)).toEqual([]);
  });

  it("catches a writer that never flushes: the flushed writes are lost", async () => {
    const w = workload("writes");
    const disk = new FaultInjectingSource(w.file);
    const { lastDone, error } = await runSteps(withoutFlush(disk), w.steps, w);
    expect(error).toBeNull();
    const problems = await verify(w, await disk.powerCut("drop"), lastDone);
    expect(problems.some((p) => p.startsWith("model: byte"))).toBe(true);
  });

  it("catches a flushed byte that changed", async () => {
    const w = workload("writes");
    const bytes = await finished(w);
    const image = await openImage(new MemorySource(bytes));
    const table = await image.bat();
    const block = [...Array(image.geometry.payloadBlockCount).keys()].find((b) => table.payloadState(b) === 6)!;
    bytes[table.payloadFileOffset(block) + 100]! ^= 0xff;
    const problems = await verify(w, bytes, lastStep(w));
    expect(problems).toEqual([expect.stringMatching(new RegExp(`^model: byte ${block * image.blockSize + 100} is`))]);
  });

  it("catches a BAT entry pointing past the end of the file (vhdx check, qemu-img check)", async () => {
    const w = workload("writes");
    const bytes = await finished(w);
    const image = await openImage(new MemorySource(bytes));
    const entry = image.layout.bat.fileOffset + 7 * 8;
    new DataView(bytes.buffer).setBigUint64(entry, (4096n << 20n) | 6n, true);
    const problems = await verify(w, bytes, lastStep(w), QEMU);
    expect(problems.some((p) => p.startsWith("vhdx check exit status 1"))).toBe(true);
    if (QEMU) expect(problems.some((p) => p.startsWith("qemu-img check"))).toBe(true);
  });

  it("catches a file that does not open", async () => {
    const w = workload("writes");
    const bytes = await finished(w);
    bytes.fill(0, 64 * 1024, 192 * 1024);
    const problems = await verify(w, bytes, lastStep(w));
    expect(problems[0]).toMatch(/^does not open read-only: /);
  });

  it("catches a second cut during a replay that changes what the disk reads", async () => {
    const w = workload("writes");
    const bytes = await finished(w);
    const expected = (await verifySurvivor(w, { bytes, lastDone: lastStep(w) }, { dir, qemu: false })).contents!;
    expect(await verify(w, bytes, lastStep(w), false, expected)).toEqual([]);
    expected[12345]! ^= 1;
    expect(await verify(w, bytes, lastStep(w), false, expected)).toEqual([
      expect.stringMatching(/^reads \d+ at byte 12345, where the same file replayed without a second cut reads/),
    ]);
  });

  it("catches a virtual size that is neither the old nor the new one", async () => {
    const w = workload("resize");
    const problems = await verify(w, w.file, lastStep(w));
    expect(problems).toContainEqual(expect.stringMatching(/^model: virtual size is 4194304, expected one of 6291456$/));
  });

  it("catches a merge that changed the parent where the child takes its data from the parent", async () => {
    const w = workload("merge");
    const bytes = await finished(w);
    const image = await openImage(new MemorySource(bytes));
    const table = await image.bat();
    // Flip one byte of the merged parent at a time, spread over the disk,
    // until one lies where the child reads from its parent.
    for (let at = 7 * 512 + 3; at < image.virtualSize; at += 97 * 512 + 13) {
      const block = Math.floor(at / image.blockSize);
      if (table.payloadState(block) !== 6) continue;
      const copy = bytes.slice();
      copy[table.payloadFileOffset(block) + (at % image.blockSize)]! ^= 0x5a;
      const problems = await verify(w, copy, lastStep(w));
      expect(problems.length).toBeGreaterThan(0);
      if (problems.some((p) => p.startsWith("merged view:"))) {
        expect(problems).toContainEqual(expect.stringMatching(new RegExp(`^model: byte ${at} is`)));
        return;
      }
    }
    expect.fail("no changed byte of the parent showed through the child");
  });

  it.skipIf(!QEMU)("compares QEMU's own replay of a log with ours", async () => {
    const w = workload("writes");
    for (let cut = 0; cut < 100; cut++) {
      await turnOfEventLoop();
      const disk = new FaultInjectingSource(w.file, { cutAfterOperations: cut });
      await runSteps(disk, w.steps, w);
      const survivor = await disk.powerCut("drop");
      const image = await openImage(new MemorySource(survivor));
      if (!image.needsReplay) continue;
      const ours = await image.read(0, image.virtualSize);
      const path = join(dir, "replay.vhdx");
      await writeFile(path, survivor);
      expect(await qemuReplayProblem(path, ours)).toBeNull();
      ours[5000]! ^= 1;
      await writeFile(path, survivor);
      expect(await qemuReplayProblem(path, ours)).toMatch(/^QEMU's own replay reads \d+ at byte 5000/);
      return;
    }
    expect.fail("no cut point left a log to replay");
  });
});

/** The disk with flush() doing nothing: a writer bug that loses everything "flushed". */
function withoutFlush(disk: FaultInjectingSource): RandomAccessSource {
  return {
    name: disk.name,
    readOnly: false,
    read: (buffer, position) => disk.read(buffer, position),
    write: (data, position) => disk.write(data, position),
    flush: async () => {},
    size: () => disk.size(),
    truncate: (length) => disk.truncate(length),
    close: async () => {},
  };
}

/** Lets vitest's RPC answers in: a loop over memory sources alone never leaves the microtask queue. */
function turnOfEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
