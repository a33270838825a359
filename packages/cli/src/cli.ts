// `vhdx <command> [options] [operands]`: dispatch, --help, and the one-line
// error report (`vhdx: CODE: message`, exit status 2).
import { COMMANDS } from "./commands/index.js";
import { EXIT_ERROR, EXIT_OK } from "./exit-status.js";
import { type CliIO, writeLine } from "./io.js";

export const VERSION = "0.0.0";

const USAGE = `vhdx: read, write, create, check and convert VHDX virtual disks (Hyper-V, WSL 2, Windows containers)

Usage: vhdx <command> [options] [operands]      vhdx <command> --help for its options and examples

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(9)} ${c.summary}`).join("\n")}

Options for every command: --help, --debug (a stack trace with errors)
Exit status: 0 success, 1 a "no" answer (compare differs, check found problems), 2 an error.
Sizes take binary suffixes: 512K, 64M, 10G, 2T.`;

/** Runs the command line `argv` (without node and the script); resolves to the exit status. */
export async function runCli(argv: string[], io: CliIO): Promise<number> {
  const debug = argv.includes("--debug");
  const args = argv.filter((arg) => arg !== "--debug");
  const [name, ...rest] = args;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    writeLine(name === undefined ? io.stderr : io.stdout, USAGE);
    return name === undefined ? EXIT_ERROR : EXIT_OK;
  }
  if (name === "--version" || name === "-V") {
    writeLine(io.stdout, `vhdx ${VERSION}`);
    return EXIT_OK;
  }
  const entry = COMMANDS.find((c) => c.name === name);
  if (entry === undefined) {
    writeLine(io.stderr, `vhdx: INVALID_ARGUMENT: unknown command ${JSON.stringify(name)}; run vhdx --help for the list`);
    return EXIT_ERROR;
  }
  try {
    const command = await entry.load();
    if (rest.includes("--help") || rest.includes("-h")) {
      writeLine(io.stdout, command.help);
      return EXIT_OK;
    }
    return await command.run(rest, io);
  } catch (error) {
    await reportError(io, error, debug);
    return EXIT_ERROR;
  }
}

async function reportError(io: CliIO, error: unknown, debug: boolean): Promise<void> {
  // Loaded here, on the way out, so that start-up does not pay for it.
  const { VhdxError } = await import("@vhdx/structs");
  if (VhdxError.isInstance(error)) {
    writeLine(io.stderr, `vhdx: ${error.code}: ${error.message}`);
  } else if (isNodeError(error)) {
    writeLine(io.stderr, `vhdx: IO_ERROR: ${error.message}`);
  } else {
    writeLine(io.stderr, `vhdx: INTERNAL: ${error instanceof Error ? error.message : String(error)} (please report this; --debug shows where)`);
  }
  if (debug && error instanceof Error && error.stack) writeLine(io.stderr, error.stack);
}

function isNodeError(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).code === "string" && (error as NodeJS.ErrnoException).syscall !== undefined;
}
