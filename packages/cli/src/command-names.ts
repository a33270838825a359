// The names of the subcommands, apart from their code, for the launcher
// (src/launch.ts), which keeps one code cache per command and must not load
// the commands to know them. src/commands/index.ts lists the same names.
export const COMMAND_NAMES = [
  "info",
  "check",
  "create",
  "convert",
  "map",
  "compare",
  "cat",
  "read",
  "write",
  "resize",
  "discard",
  "measure",
  "compact",
  "merge",
  "metadata",
  "set-parent",
  "set",
  "serve",
  "demo",
] as const;

export type CommandName = (typeof COMMAND_NAMES)[number];
