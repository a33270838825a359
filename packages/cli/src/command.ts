// The shape of a subcommand and the argument parsing every one shares.
import { type ParseArgsConfig, parseArgs } from "node:util";
import { VhdxError } from "@vhdx/structs";
import { type CliIO, withChanges } from "./io.js";

export { EXIT_ERROR, EXIT_NO, EXIT_OK } from "./exit-status.js";

/** A subcommand. Its one-line summary is in commands/index.ts, which lists them without loading them. */
export interface Command {
  name: string;
  /** The whole --help text: usage, options, examples. */
  help: string;
  run(args: string[], io: CliIO): Promise<number>;
}

type Options = NonNullable<ParseArgsConfig["options"]>;

type Parsed<O extends Options> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>
>;

/**
 * Parses `args` strictly against `options`; `positionals` says how many
 * operands the command takes. Anything else is an INVALID_ARGUMENT error
 * naming the command.
 */
export function parseCommandArgs<O extends Options>(
  command: string,
  args: string[],
  options: O,
  positionals: { min: number; max: number },
): Parsed<O> {
  let parsed: Parsed<O>;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw usageError(command, error instanceof Error ? error.message : String(error));
  }
  const count = parsed.positionals.length;
  if (count < positionals.min || count > positionals.max) {
    const wanted =
      positionals.min === positionals.max ? `${positionals.min}` : `${positionals.min} to ${positionals.max}`;
    throw usageError(command, `expects ${wanted} operand(s), got ${count}; see vhdx ${command} --help`);
  }
  return parsed;
}

export function usageError(command: string, message: string): VhdxError {
  return new VhdxError("INVALID_ARGUMENT", `${command}: ${message}`);
}

/** How the images a command reads are opened: -U and --confine-parents. */
export const READ_ACCESS_OPTIONS = {
  "force-share": { type: "boolean", short: "U" },
  "confine-parents": { type: "boolean" },
} as const;

/** --confine-parents alone, for commands that write an image (its parents are only read). */
export const CHAIN_OPTIONS = {
  "confine-parents": { type: "boolean" },
} as const;

/** -p and -q, as qemu-img has them. */
export const PROGRESS_OPTIONS = {
  progress: { type: "boolean", short: "p" },
  quiet: { type: "boolean", short: "q" },
} as const;

export interface ImageAccess {
  /** -U: read an image another program may be writing (never for writers). */
  forceShare: boolean;
  /** --confine-parents: parent locators may not lead outside the child's folder. */
  confineParents: boolean;
  /** --salvage (cat, convert): blocks that cannot be trusted or read read as zeros (salvage.ts). */
  salvage?: boolean;
}

export function imageAccess(values: { "force-share"?: boolean; "confine-parents"?: boolean }): ImageAccess {
  return { forceShare: values["force-share"] === true, confineParents: values["confine-parents"] === true };
}

/**
 * The streams with -p and -q applied: -p draws progress even when stderr is
 * not a terminal, -q never draws it (and silences warnings).
 */
export function withProgressChoice(io: CliIO, values: { progress?: boolean; quiet?: boolean }): CliIO {
  if (values.progress && values.quiet) throw usageError("options", "-p and -q contradict each other");
  if (values.progress) return withChanges(io, { interactive: true });
  if (values.quiet) return withChanges(io, { interactive: false, quiet: true });
  return io;
}

/** Help lines for -U and --confine-parents, descriptions starting at `column`. */
export function readAccessHelp(column: number): string {
  return optionRows(
    [
      [
        "-U, --force-share",
        "read even while another program has the image open for writing (what is read may then be inconsistent); a write is never forced",
      ],
      ["--confine-parents", "refuse a parent locator that leads outside the child's folder"],
    ],
    column,
  );
}

/** The help line for --confine-parents. */
export function chainHelp(column: number): string {
  return optionRows([["--confine-parents", "refuse a parent locator that leads outside the child's folder"]], column);
}

/** Help lines for -p and -q. */
export function progressHelp(column: number): string {
  return optionRows(
    [
      ["-p, --progress", "show progress even when stderr is not a terminal"],
      ["-q, --quiet", "no progress and no warnings"],
    ],
    column,
  );
}

const HELP_WIDTH = 80;

/**
 * `  option   description`, the description wrapped at HELP_WIDTH and aligned
 * at `column` (on the next line when the option does not fit before it).
 */
function optionRows(rows: Array<[option: string, description: string]>, column: number): string {
  const lines: string[] = [];
  for (const [option, description] of rows) {
    let line = `  ${option}`;
    if (line.length + 2 > column) {
      lines.push(line);
      line = "";
    }
    line = line.padEnd(column);
    for (const word of description.split(" ")) {
      if (line.length + word.length + 1 > HELP_WIDTH && line.trim() !== "") {
        lines.push(line.trimEnd());
        line = " ".repeat(column);
      }
      line += line.endsWith(" ") ? word : ` ${word}`;
    }
    lines.push(line);
  }
  return lines.join("\n");
}
