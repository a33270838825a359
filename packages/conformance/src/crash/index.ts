// The crash test part of @vhdx/conformance: power cuts at every write and
// flush boundary of random workloads, and the checks every survivor must pass.
export {
  type CrashOptions,
  POWER_CUT_MODES,
  runCrashTests,
} from "./run-crash.js";
export { SHORT_PROFILE_CUTS, cutPoints } from "./cut-points.js";
export { CRASH_WORKLOADS, type CrashWorkload, type CrashWorkloadName, buildWorkload } from "./workloads.js";
export { prepareCheckFolder, verifySurvivor } from "./verify.js";
