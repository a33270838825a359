// runFuzz: seeds, mutants and a pool of worker processes that check them;
// replayRegressions: the kept failing mutants through the same checks.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TempDir } from "@vhdx-tools/oracles";
import type { FuzzFailure, FuzzSummary } from "../results.js";
import { type ChainMutant, mutateSeed, prepareSeed } from "./mutate-chain.js";
import { defaultRegressionsDir, workerPath } from "./package-paths.js";
import { Prng } from "../random.js";
import type { CheckOutcome, WorkerHook } from "./protocol.js";
import { loadCases, materializeCase, saveCase } from "./regressions.js";
import { MUTANT_FILE_NAME, type SeedFile, buildSeeds } from "./seeds.js";
import { type PoolLimits, WorkerSlot } from "./worker-pool.js";

export interface PoolOptions {
  /** Worker processes (default 2). */
  workers?: number;
  /** Time limit per mutant (default 20000 ms). */
  timeoutMs?: number;
  /** Resident memory limit of a worker (default 512 MiB). */
  memoryLimitMiB?: number;
  /** Kept failing mutants (default packages/conformance/regressions). */
  regressionsDir?: string;
  /** Where mutants are written while checked (default a temp folder, removed afterwards). */
  workDir?: string;
  /** Replace each worker after this many mutants (default 200), so leftovers never count against later ones. */
  recycleAfter?: number;
}

export interface FuzzOptions extends PoolOptions {
  seed: number;
  count: number;
  onProgress?: (done: number, total: number) => void;
  /** Replay every kept regression case first, counted in regressionsReplayed and failures (default false). */
  replay?: boolean;
  /** For the fuzzer's own tests: make the worker misbehave on these mutant indexes. */
  hooks?: Readonly<Record<number, WorkerHook>>;
}

export interface ReplayResult {
  replayed: number;
  failures: FuzzFailure[];
}

interface Settings {
  workers: number;
  limits: PoolLimits;
  regressionsDir: string;
}

function settings(options: PoolOptions): Settings {
  return {
    workers: Math.max(1, options.workers ?? 2),
    limits: {
      timeoutMs: options.timeoutMs ?? 20_000,
      memoryLimitMiB: options.memoryLimitMiB ?? 512,
      recycleAfter: options.recycleAfter ?? 200,
    },
    regressionsDir: options.regressionsDir ?? defaultRegressionsDir(),
  };
}

export async function runFuzz(options: FuzzOptions): Promise<FuzzSummary> {
  const config = settings(options);
  return withWorkDir(options.workDir, async (workDir) => {
    const replayed = options.replay ? await replayIn(config, join(workDir, "replay")) : { replayed: 0, failures: [] };
    const seedDir = tempDirIn(join(workDir, "seeds"));
    const seeds = await buildSeeds(seedDir);
    seedDir.remove();
    const prepared = seeds.map(prepareSeed);
    const summary: FuzzSummary = {
      seed: options.seed,
      mutants: 0,
      refused: 0,
      accepted: 0,
      failures: [...replayed.failures],
      regressionsReplayed: replayed.replayed,
    };
    await inParallel(config, options.count, async (slot, index) => {
      const rng = Prng.forMutant(options.seed, index);
      const chosen = rng.pick(prepared);
      const mutant = mutateSeed(chosen, rng);
      const outcome = await checkFiles(
        slot,
        join(workDir, `m${index}`),
        mutant.bytes,
        mutant.parents,
        options.hooks?.[index],
      );
      record(summary, config.regressionsDir, chosen.seed.name, mutant, outcome);
      options.onProgress?.(summary.mutants, options.count);
    });
    return summary;
  });
}

/** Counts the outcome; a failing mutant is kept as a regression case. */
function record(
  summary: FuzzSummary,
  regressionsDir: string,
  seedImage: string,
  mutant: ChainMutant,
  outcome: CheckOutcome,
): void {
  summary.mutants++;
  if (outcome.problems.length === 0) {
    if (outcome.verdict === "accepted") summary.accepted++;
    else summary.refused++;
    return;
  }
  const problem = outcome.problems.join("; ");
  const mutation = mutant.description;
  const caseName = saveCase(
    regressionsDir,
    { bytes: mutant.bytes, fileName: MUTANT_FILE_NAME, parents: mutant.parents, seedImage, mutation },
    problem,
  );
  summary.failures.push({ caseName, seedImage, mutation, problem });
}

/** Runs every kept failing mutant through the worker checks again. */
export async function replayRegressions(options: PoolOptions = {}): Promise<ReplayResult> {
  const config = settings(options);
  return withWorkDir(options.workDir, (workDir) => replayIn(config, workDir));
}

async function replayIn(config: Settings, workDir: string): Promise<ReplayResult> {
  const cases = loadCases(config.regressionsDir);
  const failures: FuzzFailure[] = [];
  await inParallel(config, cases.length, async (slot, index) => {
    const kept = cases[index]!;
    const dir = join(workDir, kept.caseName);
    const { path, parentPaths } = materializeCase(config.regressionsDir, kept, dir);
    const outcome = await slot.check({ path, alsoUnchanged: parentPaths });
    rmSync(dir, { recursive: true, force: true });
    if (outcome.problems.length > 0) {
      failures.push({
        caseName: kept.caseName,
        seedImage: kept.seedImage,
        mutation: kept.mutation,
        problem: outcome.problems.join("; "),
      });
    }
  });
  return { replayed: cases.length, failures };
}

/** Writes the mutant and its parents into `dir`, checks them, and removes them. */
async function checkFiles(
  slot: WorkerSlot,
  dir: string,
  bytes: Uint8Array,
  parents: readonly SeedFile[],
  hook: WorkerHook | undefined,
): Promise<CheckOutcome> {
  mkdirSync(dir, { recursive: true });
  try {
    const path = join(dir, MUTANT_FILE_NAME);
    writeFileSync(path, bytes);
    const parentPaths = parents.map((parent) => {
      const parentPath = join(dir, parent.fileName);
      writeFileSync(parentPath, parent.bytes);
      return parentPath;
    });
    return await slot.check({ path, alsoUnchanged: parentPaths, ...(hook === undefined ? {} : { hook }) });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `count` jobs over `workers` slots, each slot one worker process, jobs taken in index order. */
async function inParallel(
  config: Settings,
  count: number,
  job: (slot: WorkerSlot, index: number) => Promise<void>,
): Promise<void> {
  if (count === 0) return;
  const path = workerPath();
  let next = 0;
  const lane = async () => {
    const slot = new WorkerSlot(path, config.limits);
    try {
      for (let index = next++; index < count; index = next++) await job(slot, index);
    } finally {
      await slot.close();
    }
  };
  await Promise.all(Array.from({ length: Math.min(config.workers, count) }, lane));
}

async function withWorkDir<T>(given: string | undefined, body: (dir: string) => Promise<T>): Promise<T> {
  if (given !== undefined) {
    mkdirSync(given, { recursive: true });
    return body(given);
  }
  const dir = mkdtempSync(join(tmpdir(), "vhdx-fuzz-"));
  try {
    return await body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function tempDirIn(path: string): TempDir {
  mkdirSync(path, { recursive: true });
  return { path, file: (name) => join(path, name), remove: () => rmSync(path, { recursive: true, force: true }) };
}
