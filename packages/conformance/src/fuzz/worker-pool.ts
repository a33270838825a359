// Worker processes for the fuzzer. Each slot owns one long-lived worker
// (dist/fuzz-worker.js) and checks one mutant at a time in it. A mutant that
// runs past the time limit, pushes the worker's resident memory over the
// limit (polled from /proc/<pid>/status), or kills the worker is a failure;
// the slot then starts a fresh worker. Workers are also replaced every
// `recycleAfter` mutants, so one mutant's leftovers never count against the next.
import { type ChildProcess, fork } from "node:child_process";
import { readFileSync } from "node:fs";
import type { CheckOutcome, CheckRequest } from "./protocol.js";
import { isCheckReply } from "./protocol.js";

export interface PoolLimits {
  timeoutMs: number;
  memoryLimitMiB: number;
  /** Start a fresh worker after this many mutants (default 200). */
  recycleAfter?: number;
}

const MEMORY_POLL_MS = 50;
const START_TIMEOUT_MS = 30_000;
const STDERR_TAIL = 2000;

export class WorkerSlot {
  private child: ChildProcess | null = null;
  private checked = 0;
  private stderrTail = "";
  private nextId = 1;

  constructor(
    private readonly workerPath: string,
    private readonly limits: PoolLimits,
  ) {}

  /** Checks one mutant; failures of the worker itself come back as problems. */
  async check(request: Omit<CheckRequest, "id">): Promise<CheckOutcome> {
    const child = this.child;
    const gone = child === null || child.exitCode !== null || child.signalCode !== null || !child.connected;
    if (gone || this.checked >= (this.limits.recycleAfter ?? 200)) await this.restart();
    this.checked++;
    return this.send({ ...request, id: this.nextId++ }, this.child!);
  }

  async close(): Promise<void> {
    await this.stop();
  }

  private send(request: CheckRequest, child: ChildProcess): Promise<CheckOutcome> {
    const { timeoutMs, memoryLimitMiB } = this.limits;
    this.stderrTail = "";
    return new Promise((resolve) => {
      let settled = false;
      const finish = (outcome: CheckOutcome, kill: boolean) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearInterval(poll);
        child.off("message", onMessage);
        child.off("close", onExit);
        if (kill) this.kill(child);
        resolve(outcome);
      };
      const failed = (problem: string): CheckOutcome => ({ verdict: "refused", problems: [problem] });
      const timer = setTimeout(() => finish(failed(`timeout after ${timeoutMs} ms`), true), timeoutMs);
      const poll = setInterval(() => {
        const rss = residentMiB(child.pid);
        if (rss !== null && rss > memoryLimitMiB) finish(failed(`rss ${rss} MiB (limit ${memoryLimitMiB} MiB)`), true);
      }, MEMORY_POLL_MS);
      const onMessage = (message: unknown) => {
        if (isCheckReply(message) && message.id === request.id) finish(message.outcome, false);
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
        this.child = null;
        const how = signal !== null ? `killed by ${signal}` : `exit status ${code}`;
        finish(failed(`the worker died (${how})${this.stderrTail ? `: ${oneLine(this.stderrTail)}` : ""}`), false);
      };
      child.on("message", onMessage);
      // "close" comes after the worker's stderr is drained, so the tail holds its last words.
      child.once("close", onExit);
      child.send(request, (error) => {
        if (error) finish(failed(`could not send the mutant to the worker: ${error.message}`), true);
      });
    });
  }

  private async restart(): Promise<void> {
    await this.stop();
    this.checked = 0;
    this.stderrTail = "";
    const child = fork(this.workerPath, [], {
      // Heap limit a bit above the RSS limit: the RSS poll is the rule, this is a backstop.
      execArgv: [`--max-old-space-size=${this.limits.memoryLimitMiB + 64}`],
      stdio: ["ignore", "ignore", "pipe", "ipc"],
      serialization: "json",
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString()).slice(-STDERR_TAIL);
    });
    this.child = child;
    await waitForReady(child);
  }

  private async stop(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (child === null || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGKILL");
    await exited;
  }

  private kill(child: ChildProcess): void {
    if (this.child === child) this.child = null;
    child.kill("SIGKILL");
  }
}

function waitForReady(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => done(new Error(`the fuzz worker did not start within ${START_TIMEOUT_MS} ms`)),
      START_TIMEOUT_MS,
    );
    const onMessage = (message: unknown) => {
      if (typeof message === "object" && message !== null && "ready" in message) done();
    };
    const onExit = (code: number | null) => done(new Error(`the fuzz worker exited while starting (status ${code})`));
    const done = (error?: Error) => {
      clearTimeout(timer);
      child.off("message", onMessage);
      child.off("exit", onExit);
      if (error) reject(error);
      else resolve();
    };
    child.on("message", onMessage);
    child.once("exit", onExit);
  });
}

/** VmRSS of a process in MiB, or null where /proc is not there. */
function residentMiB(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Math.round(Number(match[1]) / 1024) : null;
  } catch {
    return null;
  }
}

function oneLine(text: string): string {
  return text.trim().replace(/\s*\n\s*/g, " | ");
}
