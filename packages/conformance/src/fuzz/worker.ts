// The fuzzer's worker process (built as dist/fuzz-worker.js, started with
// child_process.fork by the runner): checks one mutant per message and
// replies with the outcome. It lives long; the runner kills it on a timeout
// or over the memory limit and starts a fresh one.
import { checkMutant, describeError } from "./check-mutant.js";
import { type CheckReply, type CheckRequest, type WorkerHook, isCheckRequest } from "./protocol.js";

const MiB = 1 << 20;
let retained: Uint8Array[] = [];

process.on("message", (message: unknown) => {
  if (!isCheckRequest(message)) return;
  void handle(message);
});
process.on("disconnect", () => process.exit(0));
process.send?.({ ready: true });

async function handle(request: CheckRequest): Promise<void> {
  if (request.hook !== undefined) await misbehave(request.hook);
  let reply: CheckReply;
  try {
    reply = { id: request.id, outcome: await checkMutant(request) };
  } catch (error) {
    reply = { id: request.id, outcome: { verdict: "refused", problems: [`worker: ${describeError(error)}`] } };
  }
  process.send?.(reply);
}

/** Test hooks: prove the runner sees a hang, a memory blow-up and a dying worker. */
async function misbehave(hook: WorkerHook): Promise<void> {
  if (hook === "hang") for (;;);
  if (hook === "exit") process.exit(70);
  if (hook === "allocate") {
    for (let i = 0; i < 75; i++) retained.push(new Uint8Array(8 * MiB).fill(1));
    await new Promise((resolve) => setTimeout(resolve, 60_000));
    retained = [];
  }
}
