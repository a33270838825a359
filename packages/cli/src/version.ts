// The version `vhdx --version` prints, in a module of its own so that the
// CommonJS entry (src/commonjs.ts) can export it without the commands.
export const VERSION = "0.0.0";
