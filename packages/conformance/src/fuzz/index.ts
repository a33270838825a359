// The structure-aware mutation fuzzer: see runner.ts for the entry points.
export { type FuzzOptions, type PoolOptions, type ReplayResult, replayRegressions, runFuzz } from "./runner.js";
export { type Mutation, type MutationKind, applyOne, mutate } from "./mutate.js";
export { type ChainMutant, type PreparedSeed, mutateSeed, prepareSeed } from "./mutate-chain.js";
export { Prng } from "../random.js";
export { type Field, type Structure, type StructureMap, mapStructures } from "./structure-map.js";
export { MUTANT_FILE_NAME, type SeedFile, type SeedImage, buildSeeds } from "./seeds.js";
export { type RegressionCase, loadCases } from "./regressions.js";
export type { CheckOutcome, WorkerHook } from "./protocol.js";
