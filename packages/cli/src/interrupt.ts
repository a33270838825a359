// Ctrl-C, SIGTERM and SIGHUP while a command runs. The first signal asks the
// command to stop at its next step boundary (`interrupts.signal` aborts);
// the command finishes the step in hand, leaves its files consistent, and
// exits with 128 + the signal's number, saying on stderr what was done. A
// second signal exits at once, after the synchronous cleanups registered
// with onForcedExit (removing a temporary file): what is left is what a crash
// leaves, which the log (in place) and the temporary names (new files) make
// safe. Handlers are installed only while the command runs, so commands run
// in-process (tests) leave nothing behind.
import { constants } from "node:os";
import type { CliIO } from "./io.js";
import { writeLine } from "./io.js";

const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

type StopSignal = (typeof SIGNALS)[number];

/** 128 + the signal's number, as a shell reports a command a signal ended: 130, 143, 129. */
function exitStatusOf(signal: StopSignal): number {
  return 128 + constants.signals[signal];
}

/** Thrown (through interrupts.signal's reason) where a command stops early because of a signal. */
class Interrupted extends Error {
  constructor(readonly signal: StopSignal) {
    super(`interrupted by ${signal}`);
    this.name = "Interrupted";
  }
}

export interface Interrupts {
  /** Aborts at the first signal, with an Interrupted reason: check it between steps (signal.throwIfAborted()). */
  readonly signal: AbortSignal;
  /** Says what the command did, for the line printed when a signal ended it. */
  report(describe: () => string): void;
  /** Runs `cleanup` (synchronous) if a second signal ends the process at once; returns a function that unregisters it. */
  onForcedExit(cleanup: () => void): () => void;
}

/**
 * Runs `work` with handlers for SIGINT, SIGTERM and SIGHUP installed, and
 * removes them afterwards. When a signal arrived, the result is the exit
 * status 128 + its number, whether `work` stopped early (threw its
 * Interrupted) or finished the step it could not stop in, and the line
 * `vhdx: interrupted (SIGINT): <report>` is printed; other errors pass through.
 */
export async function runInterruptible<T>(
  io: CliIO,
  work: (interrupts: Interrupts) => Promise<T>,
): Promise<T | number> {
  const controller = new AbortController();
  const cleanups = new Set<() => void>();
  let describe = () => "";
  let received: StopSignal | null = null;
  const handlers = SIGNALS.map((name) => {
    const handler = () => {
      if (received !== null) exitNow(io, name, cleanups);
      received = name;
      controller.abort(new Interrupted(name));
    };
    process.on(name, handler);
    return () => process.removeListener(name, handler);
  });
  const interrupts: Interrupts = {
    signal: controller.signal,
    report: (next) => {
      describe = next;
    },
    onForcedExit(cleanup) {
      cleanups.add(cleanup);
      return () => cleanups.delete(cleanup);
    },
  };
  try {
    const status = await work(interrupts);
    return received === null ? status : stopped(io, received, describe());
  } catch (error) {
    if (received === null || !(error instanceof Interrupted)) throw error;
    return stopped(io, received, describe());
  } finally {
    for (const remove of handlers) remove();
  }
}

/**
 * Prints `note` on stderr as soon as the first signal comes, for a command
 * that finishes what it does before it stops (so it does not look hung).
 */
export function announceOnSignal(io: CliIO, interrupts: Interrupts, note: string): void {
  interrupts.signal.addEventListener("abort", () => {
    const reason = interrupts.signal.reason as Interrupted;
    // With --json, stderr holds one JSON object at the end, nothing before it.
    if (!io.json) writeLine(io.stderr, `vhdx: ${reason.signal}: ${note}; a second signal exits at once`);
  });
}

function stopped(io: CliIO, signal: StopSignal, what: string): number {
  const message = `interrupted (${signal})${what === "" ? "" : `: ${what}`}`;
  if (io.json) writeLine(io.stderr, JSON.stringify({ error: { code: "INTERRUPTED", message, signal } }));
  else writeLine(io.stderr, `vhdx: ${message}`);
  return exitStatusOf(signal);
}

function exitNow(io: CliIO, signal: StopSignal, cleanups: Set<() => void>): never {
  for (const cleanup of cleanups) {
    try {
      cleanup();
    } catch {
      // Exiting anyway: a cleanup that fails must not keep the process alive.
    }
  }
  writeLine(io.stderr, `vhdx: interrupted again (${signal}): exiting at once`);
  process.exit(exitStatusOf(signal));
}
