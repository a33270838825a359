// The shape of a subcommand and the argument parsing every one shares.
import { type ParseArgsConfig, parseArgs } from "node:util";
import { VhdxError } from "@vhdx/structs";
import type { CliIO } from "./io.js";

export { EXIT_ERROR, EXIT_NO, EXIT_OK } from "./exit-status.js";

export interface Command {
  name: string;
  /** One line for the command list. */
  summary: string;
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
    const wanted = positionals.min === positionals.max ? `${positionals.min}` : `${positionals.min} to ${positionals.max}`;
    throw usageError(command, `expects ${wanted} operand(s), got ${count}; see vhdx ${command} --help`);
  }
  return parsed;
}

export function usageError(command: string, message: string): VhdxError {
  return new VhdxError("INVALID_ARGUMENT", `${command}: ${message}`);
}
