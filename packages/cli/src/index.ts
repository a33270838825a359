export { VERSION, runCli } from "./cli.js";
export { EXIT_ERROR, EXIT_NO, EXIT_OK, type Command } from "./command.js";
export type { CliIO } from "./io.js";
export { formatSize, parseSize } from "./sizes.js";
