// `vhdx <command> [options] [operands]`: dispatch, --help, and the error
// report: one line (`vhdx: CODE: message`), or with --json one JSON object on
// stderr (`{"error": {"code", "message", "file"?, "offset"?}}`); exit status 2.
import { COMMANDS } from "./commands/index.js";
import { EXIT_ERROR, EXIT_OK } from "./exit-status.js";
import { type CliIO, printLine, withChanges, writeLine } from "./io.js";
import { VERSION } from "./version.js";

const USAGE = `vhdx: read, write, create, check and convert VHDX virtual disks (Hyper-V, WSL 2, Windows containers)

Usage: vhdx <command> [options] [operands]      vhdx <command> --help for its options and examples

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(10)} ${c.summary}`).join("\n")}

Options for every command: --help, --debug (a stack trace with errors);
with --json, an error is one JSON object on stderr: {"error": {"code", "message", "file"?, "offset"?}}
Exit status: 0 success, 1 a "no" answer (compare differs, check found problems), 2 an error,
3 incomplete (cat or convert --salvage read part of the disk as zeros).
Sizes take binary suffixes: 512K, 64M, 10G, 2T.`;

/** Runs the command line `argv` (without node and the script); resolves to the exit status. */
export async function runCli(argv: string[], io: CliIO): Promise<number> {
  const debug = argv.includes("--debug");
  const json = argv.includes("--json");
  const args = argv.filter((arg) => arg !== "--debug");
  const [name, ...rest] = args;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    if (name === undefined) writeLine(io.stderr, USAGE);
    else printLine(io, USAGE);
    return name === undefined ? EXIT_ERROR : EXIT_OK;
  }
  if (name === "--version" || name === "-V") {
    printLine(io, `vhdx ${VERSION}`);
    return EXIT_OK;
  }
  const entry = COMMANDS.find((c) => c.name === name);
  if (entry === undefined) {
    report(io, json, {
      code: "INVALID_ARGUMENT",
      message: `unknown command ${JSON.stringify(name)}; run vhdx --help for the list`,
    });
    return EXIT_ERROR;
  }
  try {
    const command = await entry.load();
    if (rest.includes("--help") || rest.includes("-h")) {
      printLine(io, command.help);
      return EXIT_OK;
    }
    return await command.run(rest, json ? withChanges(io, { json }) : io);
  } catch (error) {
    await reportError(io, error, debug, json);
    return EXIT_ERROR;
  }
}

interface ErrorReport {
  code: string;
  message: string;
  file?: string;
  offset?: number;
}

async function reportError(io: CliIO, error: unknown, debug: boolean, json: boolean): Promise<void> {
  // Loaded here, on the way out, so that start-up does not pay for it.
  const { VhdxError } = await import("@vhdx/structs");
  if (VhdxError.isInstance(error)) {
    const file = error.file ?? fileOf(error.cause);
    report(io, json, {
      code: error.code,
      message: error.message,
      ...(file ? { file } : {}),
      ...(error.offset === undefined ? {} : { offset: error.offset }),
    });
  } else if (isNodeError(error)) {
    report(io, json, { code: "IO_ERROR", message: error.message, ...(error.path ? { file: error.path } : {}) });
  } else {
    const message = error instanceof Error ? error.message : String(error);
    report(io, json, { code: "INTERNAL", message: `${message} (please report this; --debug shows where)` });
  }
  if (debug && error instanceof Error && error.stack) writeLine(io.stderr, error.stack);
}

function report(io: CliIO, json: boolean, error: ErrorReport): void {
  writeLine(io.stderr, json ? JSON.stringify({ error }) : `vhdx: ${error.code}: ${error.message}`);
}

/** The path of the Node I/O error behind a VhdxError, when there is one. */
function fileOf(cause: unknown): string | undefined {
  return isNodeError(cause) && typeof cause.path === "string" ? cause.path : undefined;
}

function isNodeError(error: unknown): error is NodeJS.ErrnoException {
  return (
    error instanceof Error &&
    typeof (error as NodeJS.ErrnoException).code === "string" &&
    (error as NodeJS.ErrnoException).syscall !== undefined
  );
}
