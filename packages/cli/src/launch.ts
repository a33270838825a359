// dist/vhdx.cjs, what bin/vhdx.cjs runs: a small CommonJS file that runs the
// command (dist/vhdx-program.cjs, built from src/bin.ts as one CommonJS
// bundle) through a V8 code cache kept per subcommand (src/code-cache.ts).
// CommonJS because an ES module entry costs Node 20 about 5 ms more to start.
import { join } from "node:path";
import { codeCacheFile, runWithCodeCache } from "./code-cache.js";
import { COMMAND_NAMES } from "./command-names.js";
import { VERSION } from "./version.js";

const args = process.argv.slice(2);
const name = args.find((arg) => arg !== "--debug");
const command = COMMAND_NAMES.find((known) => known === name);
// Runs without a subcommand (--version, --help) share one cache.
const cacheFile = codeCacheFile(process.env, VERSION, command ?? "main");
// A subcommand's cache made by a run that failed or only printed its help would miss the code of a real run.
const printedHelp = command !== undefined && (args.includes("--help") || args.includes("-h"));
const ranFully = () => (process.exitCode ?? 0) === 0 && !printedHelp;

runWithCodeCache(join(__dirname, "vhdx-program.cjs"), cacheFile, ranFully);
