// @vhdx/conformance: the corpus, the differential runners, the fuzzer, the
// power-cut crash tests and the report that adds them up.
export type { Comparison, CrashFailure, CrashSummary, FuzzFailure, FuzzSummary } from "./results.js";
export * from "./oracles.js";
export {
  type BuildCorpusOptions,
  type CorpusImage,
  type CorpusOrigin,
  type CorpusProfile,
  type DifferentialOracle,
  type ReferenceContents,
  type ReferenceOracle,
  CORPUS_MANIFEST,
  buildCorpus,
  readCorpus,
} from "./corpus/index.js";
export {
  type ByteComparison,
  type CompareOptions,
  type DifferentialOptions,
  type ReadWindow,
  compareViews,
  runDifferential,
} from "./differential/index.js";
export {
  type CheckOutcome,
  type FuzzOptions,
  type Mutation,
  type MutationKind,
  type PoolOptions,
  type RegressionCase,
  type ReplayResult,
  type SeedImage,
  type StructureMap,
  buildSeeds,
  loadCases,
  mapStructures,
  mutate,
  Prng,
  replayRegressions,
  runFuzz,
} from "./fuzz/index.js";
export {
  type CrashOptions,
  type CrashWorkloadName,
  CRASH_WORKLOADS,
  POWER_CUT_MODES,
  runCrashTests,
  verifySurvivor,
} from "./crash/index.js";
export { KNOWN_DIFFERENCES, type KnownDifference } from "./report/known-differences.js";
export { formatReportMarkdown, formatReportText } from "./report/format-report.js";
export {
  type ConformanceOptions,
  type ConformanceReport,
  type Profile,
  type ReportRow,
  comparisonRows,
  runConformance,
} from "./report/run-conformance.js";
