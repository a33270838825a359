// What each part of the suite reports, so the conformance report can add it up.

/** One comparison of our result against an oracle's, on one image. */
export interface Comparison {
  /** Which oracle: "qemu-img convert", "pyvhdi", "vhdiinfo", "qemu-img check", "qemu-io", "generator". */
  oracle: string;
  /** The corpus image's name. */
  image: string;
  /** Bytes of virtual disk (or fields, for vhdiinfo) compared. */
  bytesCompared: number;
  /** Every difference found; empty when we agree. */
  mismatches: string[];
  /** Set when the oracle is known to be wrong here and the comparison was not made (see KNOWN_DIFFERENCES). */
  skipped?: string;
}

/** A mutant that made us crash, hang, use too much memory or exit outside 0-2. */
export interface FuzzFailure {
  /** File name of the saved regression case (under regressions/). */
  caseName: string;
  seedImage: string;
  mutation: string;
  /** What went wrong, e.g. "TypeError: ...", "timeout after 20000 ms", "rss 600 MiB". */
  problem: string;
}

export interface FuzzSummary {
  seed: number;
  mutants: number;
  /** Mutants our reader refused with a VhdxError (the expected outcome for most). */
  refused: number;
  /** Mutants that opened and read through. */
  accepted: number;
  failures: FuzzFailure[];
  /** Regression cases replayed (every case ever kept). */
  regressionsReplayed: number;
}

export interface CrashFailure {
  workload: string;
  cutPoint: number;
  mode: string;
  problem: string;
}

export interface CrashSummary {
  /** Workloads run (writes, zero writes, discards, resize, compact, merge). */
  workloads: string[];
  /** Power cuts simulated (cut points times modes). */
  cuts: number;
  /** Reopened images also checked by qemu-img check. */
  qemuChecked: number;
  failures: CrashFailure[];
}
