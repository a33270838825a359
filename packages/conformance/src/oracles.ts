// The oracles the suite measures against. The runners live in tools/oracles
// (the repository's own tests use them too) and are bundled into this package.
export {
  type OracleName,
  type QemuCreateOptions,
  type TempDir,
  type VhdiInfo,
  inCi,
  oracle,
  oraclePath,
  oracles,
  pyvhdiRead,
  qemuCheck,
  qemuConvertToRaw,
  qemuCreate,
  qemuIo,
  run,
  tempDir,
  vhdiinfoFields,
  withTempDir,
} from "@vhdx-tools/oracles";
