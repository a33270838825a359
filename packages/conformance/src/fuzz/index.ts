// The structure-aware mutation fuzzer: see runner.ts for the entry points.
export { type FuzzOptions, type PoolOptions, type ReplayResult, replayRegressions, runFuzz } from "./runner.js";
export { type Mutation, type MutationKind, mutate } from "./mutate.js";
export { Prng } from "../random.js";
export { type StructureMap, mapStructures } from "./structure-map.js";
export { type SeedImage, buildSeeds } from "./seeds.js";
export { type RegressionCase, loadCases } from "./regressions.js";
export type { CheckOutcome } from "./protocol.js";
