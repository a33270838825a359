// runCrashTests: for each workload, count its mutating operations, then cut
// the power before each of them (or a sample, in the short profile), in every
// mode (drop the unflushed writes, keep a random subset, tear the last), and
// verify what the disk holds (verify.ts). Where that file holds a log, the
// power is cut again during its replay (replay-cuts.ts) and the result
// verified the same way.
import { accessSync, constants } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VhdxError } from "@vhdx/image";
import { FaultInjectingSource, type PowerCutMode } from "@vhdx/image/testing";
import { oracle } from "../oracles.js";
import type { CrashFailure, CrashSummary } from "../results.js";
import { type CrashProfile, cutPoints } from "./cut-points.js";
import { deriveSeed } from "./random.js";
import { type ReplayCut, replayCuts } from "./replay-cuts.js";
import { runSteps } from "./run-steps.js";
import { describeStep } from "./steps.js";
import { type Verdict, prepareCheckFolder, verifySurvivor } from "./verify.js";
import { CRASH_WORKLOADS, type CrashWorkload, type CrashWorkloadName, buildWorkload } from "./workloads.js";

export interface CrashOptions {
  seed: number;
  profile: CrashProfile;
  /** Run `qemu-img check` on the images QEMU can open (default: when qemu-img is installed; in CI it must be). */
  qemuCheck?: boolean;
  /** Where the checked files are written (a fresh folder inside it, removed afterwards; default /dev/shm or the OS temp folder). */
  workDir?: string;
  onProgress?: (line: string) => void;
  /** The workloads to run (default all of CRASH_WORKLOADS). */
  workloads?: readonly CrashWorkloadName[];
}

export const POWER_CUT_MODES: readonly PowerCutMode[] = ["drop", "keep-random", "tear"];

/**
 * The short profile's sampling on top of the cut points: `qemu-img check` on
 * every QEMU_EVERY-th cut point (and always the last), second cuts during the
 * replay of the torn survivor of every REPLAY_EVERY-th. The full profile runs
 * qemu-img on every survivor and cuts every torn survivor's replay.
 */
const SHORT_PROFILE_QEMU_EVERY = 6;
const SHORT_PROFILE_REPLAY_EVERY = 4;

/** More failures than this in one workload are counted in one last entry instead of listed. */
const MAX_FAILURES_PER_WORKLOAD = 50;

interface WorkloadRun {
  workload: CrashWorkload;
  options: CrashOptions & { qemuCheck: boolean };
  dir: string;
  /** Mutating operations of the whole workload. */
  total: number;
  cuts: number;
  qemuChecked: number;
  failures: CrashFailure[];
}

export async function runCrashTests(options: CrashOptions): Promise<CrashSummary> {
  const qemuCheck = options.qemuCheck ?? oracle("qemu-img");
  const parent = options.workDir ?? defaultWorkDir();
  await mkdir(parent, { recursive: true });
  const root = await mkdtemp(join(parent, "vhdx-crash-"));
  const summary: CrashSummary = { workloads: [], cuts: 0, qemuChecked: 0, failures: [] };
  try {
    for (const name of options.workloads ?? CRASH_WORKLOADS) {
      const dir = join(root, name);
      await mkdir(dir);
      const run = await runWorkload(name, { ...options, qemuCheck }, dir);
      summary.workloads.push(name);
      summary.cuts += run.cuts;
      summary.qemuChecked += run.qemuChecked;
      summary.failures.push(...capped(name, run.failures));
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  return summary;
}

async function runWorkload(
  name: CrashWorkloadName,
  options: WorkloadRun["options"],
  dir: string,
): Promise<{ cuts: number; qemuChecked: number; failures: CrashFailure[] }> {
  const report = options.onProgress ?? (() => {});
  const started = Date.now();
  const failures: CrashFailure[] = [];
  let workload: CrashWorkload;
  try {
    workload = await buildWorkload(name, options.seed);
  } catch (error) {
    failures.push({
      workload: name,
      cutPoint: -1,
      mode: "setup",
      problem: `the workload could not be built: ${String(error)}`,
    });
    return { cuts: 0, qemuChecked: 0, failures };
  }
  await prepareCheckFolder(dir, workload);
  const run: WorkloadRun = { workload, options, dir, total: 0, cuts: 0, qemuChecked: 0, failures };
  const counted = await countOperations(run);
  if (!counted) return run;
  const points = cutPoints(run.total, options.profile, deriveSeed(options.seed, CRASH_WORKLOADS.indexOf(name)));
  report(
    `crash ${name}: ${workload.steps.length} steps, ${run.total} mutating operations, ${points.length} cut points x ${POWER_CUT_MODES.length} modes`,
  );
  // Long runs report every tenth of the way.
  const tenth = points.length >= 100 ? Math.ceil(points.length / 10) : Infinity;
  for (const [n, cut] of points.entries()) {
    await runCutPoint(run, cut, n);
    if ((n + 1) % tenth === 0 && n + 1 < points.length)
      report(`crash ${name}: ${n + 1} of ${points.length} cut points, ${run.cuts} cuts, ${failures.length} failures`);
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  report(
    `crash ${name}: ${run.cuts} cuts, ${run.qemuChecked} qemu-img checks, ${failures.length} failures, ${seconds} s`,
  );
  return run;
}

/** Runs the workload with no fault to learn `run.total`; false (with a failure recorded) when it fails. */
async function countOperations(run: WorkloadRun): Promise<boolean> {
  const counter = new FaultInjectingSource(run.workload.file);
  const { lastDone, error } = await runSteps(counter, run.workload.steps, run.workload);
  run.total = counter.operations;
  if (error === null) return true;
  fail(
    run,
    -1,
    "none",
    `step ${lastDone + 1} (${stepName(run.workload, lastDone + 1)}) fails without any fault: ${String(error)}`,
  );
  return false;
}

/** The `n`-th cut point: the power goes before mutating operation `cut`; every mode's survivor is verified. */
async function runCutPoint(run: WorkloadRun, cut: number, n: number): Promise<void> {
  const { workload, options } = run;
  const source = new FaultInjectingSource(workload.file, {
    cutAfterOperations: cut,
    seed: deriveSeed(options.seed, cut, 1),
  });
  const { lastDone, error } = await runSteps(source, workload.steps, workload);
  const during = `cut before operation ${cut} of ${run.total}, during step ${lastDone + 1} (${stepName(workload, lastDone + 1)})`;
  if (error !== null && !(source.powerIsCut && VhdxError.isInstance(error))) {
    fail(
      run,
      cut,
      "none",
      `${during}: the step failed ${source.powerIsCut ? "with something other than a VhdxError" : "without a power cut"}: ${String(error)}`,
    );
    return;
  }
  const full = options.profile === "full";
  const qemu =
    options.qemuCheck && workload.qemuCanOpen && (full || n % SHORT_PROFILE_QEMU_EVERY === 0 || cut === run.total);
  for (const mode of POWER_CUT_MODES) {
    const bytes = await source.powerCut(mode);
    const verdict = await verifySurvivor(workload, { bytes, lastDone }, { dir: run.dir, qemu });
    record(run, cut, mode, during, verdict.problems, qemu);
    if (verdict.replayed && mode === "tear" && (full || n % SHORT_PROFILE_REPLAY_EVERY === 0)) {
      await cutDuringReplay(run, { cut, mode, during, lastDone }, bytes, verdict);
    }
  }
}

/** Cuts the power again during the replay of `bytes`; each result must read exactly as `first` (the replay without a cut) did. */
async function cutDuringReplay(
  run: WorkloadRun,
  at: { cut: number; mode: string; during: string; lastDone: number },
  bytes: Uint8Array,
  first: Verdict,
): Promise<void> {
  let second: ReplayCut[];
  try {
    second = await replayCuts(run.workload, bytes, run.options.profile, deriveSeed(run.options.seed, at.cut, 2));
  } catch (error) {
    fail(run, at.cut, at.mode, `${at.during}: ${String(error)}`);
    return;
  }
  for (const { label, bytes: survivor } of second) {
    const options = { dir: run.dir, qemu: false, ...(first.contents === null ? {} : { expected: first.contents }) };
    const verdict = await verifySurvivor(run.workload, { bytes: survivor, lastDone: at.lastDone }, options);
    record(run, at.cut, `${at.mode}, then ${label}`, at.during, verdict.problems, false);
  }
}

function record(
  run: WorkloadRun,
  cut: number,
  mode: string,
  during: string,
  problems: readonly string[],
  qemuChecked: boolean,
): void {
  for (const problem of problems) fail(run, cut, mode, `${during}: ${problem}`);
  run.cuts++;
  if (qemuChecked) run.qemuChecked++;
}

function fail(run: WorkloadRun, cutPoint: number, mode: string, problem: string): void {
  run.failures.push({ workload: run.workload.name, cutPoint, mode, problem });
}

function stepName(workload: CrashWorkload, index: number): string {
  const step = workload.steps[index];
  return step === undefined ? "after the last step" : describeStep(step);
}

/** Memory-backed /dev/shm where there is one (the checked files are rewritten hundreds of times), else the OS temp folder. */
function defaultWorkDir(): string {
  try {
    accessSync("/dev/shm", constants.W_OK);
    return "/dev/shm";
  } catch {
    return tmpdir();
  }
}

function capped(name: string, failures: CrashFailure[]): CrashFailure[] {
  if (failures.length <= MAX_FAILURES_PER_WORKLOAD) return failures;
  const omitted = failures.length - MAX_FAILURES_PER_WORKLOAD;
  return [
    ...failures.slice(0, MAX_FAILURES_PER_WORKLOAD),
    { workload: name, cutPoint: -1, mode: "all", problem: `... and ${omitted} more failures` },
  ];
}
