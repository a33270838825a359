export { type DifferentialOptions, runDifferential } from "./run-differential.js";
export { type ByteComparison, type CompareOptions, type ReadWindow, compareViews } from "./compare-bytes.js";
