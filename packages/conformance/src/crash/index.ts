// The crash test part of @vhdx/conformance: power cuts at every write and
// flush boundary of random workloads, and the checks every survivor must pass.
export { type CrashOptions, POWER_CUT_MODES, SHORT_PROFILE_QEMU_EVERY, SHORT_PROFILE_REPLAY_EVERY, runCrashTests } from "./run-crash.js";
export { type CrashProfile, SHORT_PROFILE_CUTS, cutPoints } from "./cut-points.js";
export { SHORT_PROFILE_REPLAY_CUTS } from "./replay-cuts.js";
export { CRASH_WORKLOADS, type CrashWorkload, type CrashWorkloadName, buildWorkload } from "./workloads.js";
export { type Survivor, type Verdict, type VerifyOptions, prepareCheckFolder, verifySurvivor } from "./verify.js";
