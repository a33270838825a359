// The whole suite in one run: build the corpus, compare every image with the
// oracles, fuzz, cut the power, and add it all up.
import { mkdtempSync, rmSync } from "node:fs";
import { arch, cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { buildCorpus } from "../corpus/index.js";
import { runCrashTests } from "../crash/index.js";
import { runDifferential } from "../differential/index.js";
import { runFuzz } from "../fuzz/index.js";
import { oraclePath, run, sevenZipVersion } from "../oracles.js";
import type { Comparison, CrashSummary, FuzzSummary } from "../results.js";
import { KNOWN_DIFFERENCES, type KnownDifference } from "./known-differences.js";

export type Profile = "short" | "full";

export interface ConformanceOptions {
  profile: Profile;
  seed: number;
  /** Mutants for the fuzzer. */
  fuzzCount: number;
  /** Fuzzer worker processes. */
  workers?: number;
  /** Where the corpus is built (a fresh temp folder, removed afterwards, by default). */
  workDir?: string;
  onProgress?: (line: string) => void;
}

/** One line of the report table. */
export interface ReportRow {
  oracle: string;
  images: number;
  bytesCompared: number;
  mismatches: number;
  mutants: number;
  crashes: number;
}

export interface ConformanceReport {
  profile: Profile;
  seed: number;
  /** Where it ran: Node, CPU, and each oracle's version line. */
  environment: { node: string; cpu: string; oracles: Record<string, string> };
  rows: ReportRow[];
  comparisons: Comparison[];
  fuzz: FuzzSummary;
  crash: CrashSummary;
  knownDifferences: readonly KnownDifference[];
  /** No mismatch, no fuzzer failure, no crash-test failure. */
  passed: boolean;
  durationMs: number;
}

export async function runConformance(options: ConformanceOptions): Promise<ConformanceReport> {
  const started = Date.now();
  const progress = options.onProgress ?? (() => {});
  const workDir = options.workDir ?? mkdtempSync(join(tmpdir(), "vhdx-conformance-"));
  try {
    progress(`corpus (${options.profile}) in ${workDir}`);
    const corpus = await buildCorpus(join(workDir, "corpus"), { profile: options.profile, onProgress: progress });
    progress(`differential: ${corpus.length} images`);
    const comparisons = await runDifferential(corpus, { onProgress: progress });
    progress(`fuzz: ${options.fuzzCount} mutants, seed ${options.seed}`);
    const fuzz = await runFuzz({
      seed: options.seed,
      count: options.fuzzCount,
      replay: true,
      workDir: join(workDir, "fuzz"),
      ...(options.workers === undefined ? {} : { workers: options.workers }),
    });
    progress(`power cuts (${options.profile})`);
    const crash = await runCrashTests({
      seed: options.seed,
      profile: options.profile,
      workDir: join(workDir, "crash"),
      onProgress: progress,
    });
    const rows = [...comparisonRows(comparisons), fuzzRow(fuzz), crashRow(crash)];
    const passed = rows.every((row) => row.mismatches === 0 && row.crashes === 0);
    return {
      profile: options.profile,
      seed: options.seed,
      environment: environment(),
      rows,
      comparisons,
      fuzz,
      crash,
      knownDifferences: KNOWN_DIFFERENCES,
      passed,
      durationMs: Date.now() - started,
    };
  } finally {
    if (options.workDir === undefined) rmSync(workDir, { recursive: true, force: true });
  }
}

/** One row per oracle: the images it was compared on, bytes, and mismatches. */
export function comparisonRows(comparisons: readonly Comparison[]): ReportRow[] {
  const byOracle = new Map<string, ReportRow & { seen: Set<string> }>();
  for (const comparison of comparisons) {
    if (comparison.skipped !== undefined) continue;
    let row = byOracle.get(comparison.oracle);
    if (row === undefined) {
      row = {
        oracle: comparison.oracle,
        images: 0,
        bytesCompared: 0,
        mismatches: 0,
        mutants: 0,
        crashes: 0,
        seen: new Set(),
      };
      byOracle.set(comparison.oracle, row);
    }
    row.seen.add(comparison.image);
    row.images = row.seen.size;
    row.bytesCompared += comparison.bytesCompared;
    row.mismatches += comparison.mismatches.length;
  }
  return [...byOracle.values()].map(({ seen: _seen, ...row }) => row);
}

function fuzzRow(fuzz: FuzzSummary): ReportRow {
  return {
    oracle: "fuzzer: vhdx check --json, vhdx cat, library reads",
    images: fuzz.mutants + fuzz.regressionsReplayed,
    bytesCompared: 0,
    mismatches: 0,
    mutants: fuzz.mutants + fuzz.regressionsReplayed,
    crashes: fuzz.failures.length,
  };
}

function crashRow(crash: CrashSummary): ReportRow {
  return {
    oracle: `power cuts: reopen, vhdx check, qemu-img check (${crash.qemuChecked})`,
    images: crash.cuts,
    bytesCompared: 0,
    mismatches: 0,
    mutants: 0,
    crashes: crash.failures.length,
  };
}

function environment(): ConformanceReport["environment"] {
  const versions: Record<string, string> = {};
  if (oraclePath("qemu-img") !== null) versions["qemu-img"] = firstLine(run("qemu-img", ["--version"]));
  if (oraclePath("vhdiinfo") !== null) versions.vhdiinfo = firstLine(run("vhdiinfo", ["-V"]));
  if (oraclePath("7zz") !== null) versions["7zz"] = sevenZipVersion();
  const cpu = cpus();
  return { node: process.version, cpu: `${cpu.length} x ${cpu[0]?.model ?? arch()}`, oracles: versions };
}

function firstLine(output: Buffer): string {
  return output.toString().trim().split("\n")[0] ?? "";
}
