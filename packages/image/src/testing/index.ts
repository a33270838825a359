// @vhdx/image/testing: what tests of code built on @vhdx/image need, kept out
// of the main entry. Runs in a browser too.
export {
  FaultInjectingSource,
  type FaultInjectingOptions,
  type PowerCutMode,
} from "../sources/fault-injecting-source.js";
