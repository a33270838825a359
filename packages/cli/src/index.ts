// The library entry: run the command in-process. The CommonJS build of this
// entry is src/commonjs.ts; keep the two exporting the same names.
export { runCli } from "./cli.js";
export { VERSION } from "./version.js";
export { EXIT_ERROR, EXIT_NO, EXIT_OK, type Command } from "./command.js";
export type { CliIO } from "./io.js";
export { formatSize, parseSize } from "./sizes.js";
