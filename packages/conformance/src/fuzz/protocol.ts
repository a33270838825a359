// Messages between the fuzz runner and its worker processes.

/**
 * Test hooks that make the worker misbehave on purpose, to prove the runner
 * notices: spin forever, allocate 600 MiB, exit, or throw a TypeError.
 */
export type WorkerHook = "hang" | "allocate" | "exit" | "type-error";

export interface CheckRequest {
  id: number;
  /** The mutant's path; its parents, if any, sit beside it. */
  path: string;
  /** Paths of files that must not change either (the parents). */
  alsoUnchanged: string[];
  hook?: WorkerHook;
}

type Verdict = "refused" | "accepted";

export interface CheckOutcome {
  /** "refused": the library refused it with a VhdxError; "accepted": it opened and read through. */
  verdict: Verdict;
  /** Everything that broke a rule of the fuzzer (a crash, a stack trace, a bad exit status...); empty when fine. */
  problems: string[];
  /** The library's error code when refused. */
  code?: string;
}

export interface CheckReply {
  id: number;
  outcome: CheckOutcome;
}

export function isCheckReply(message: unknown): message is CheckReply {
  return typeof message === "object" && message !== null && "id" in message && "outcome" in message;
}

export function isCheckRequest(message: unknown): message is CheckRequest {
  return typeof message === "object" && message !== null && "id" in message && "path" in message;
}
