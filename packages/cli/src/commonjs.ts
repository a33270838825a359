// The CommonJS entry (dist/index.cjs), with the names of src/index.ts. The
// commands are ES modules, built once into dist/ beside the command itself;
// runCli loads them from the ES module entry on first use instead of carrying
// a second copy of them here.
import type { CliIO } from "./io.js";

export { EXIT_ERROR, EXIT_NO, EXIT_OK } from "./exit-status.js";
export { formatSize, parseSize } from "./sizes.js";
export { VERSION } from "./version.js";

/** Runs the command line `argv` (without node and the script); resolves to the exit status. */
export async function runCli(argv: string[], io: CliIO): Promise<number> {
  // Kept as import() of dist/index.js by tsup.config.ts (an ES module cannot be require()d).
  const library = await import("./index.js");
  return library.runCli(argv, io);
}
