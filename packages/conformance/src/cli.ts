// vhdx-conformance: the suite from the command line.
//   report  everything, printed as a table (and optionally written as Markdown)
//   fuzz    the mutation fuzzer, after replaying every kept regression case
//   crash   power cuts at every write and flush of the crash workloads
//   corpus  build the corpus into a folder and keep it
// Exit status: 0 clean, 1 something failed, 2 bad usage.
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { buildCorpus } from "./corpus/index.js";
import { runCrashTests } from "./crash/index.js";
import { runFuzz } from "./fuzz/index.js";
import { formatReportMarkdown, formatReportText } from "./report/format-report.js";
import { type Profile, runConformance } from "./report/run-conformance.js";

const USAGE = `usage: vhdx-conformance <command> [options]

commands (defaults in brackets):
  report [--profile short|full (full)] [--seed N (1)] [--fuzz-count N (2000)] [--workers N (2)] [--markdown FILE] [--json]
  fuzz   [--seed N (from the clock, printed)] [--count N (500)] [--workers N (2)] [--timeout MS (20000)] [--memory MIB (512)]
  crash  [--profile short|full (short)] [--seed N (1)]
  corpus DIR [--profile short|full (short)]`;

const OPTIONS = {
  profile: { type: "string" },
  seed: { type: "string" },
  count: { type: "string" },
  "fuzz-count": { type: "string" },
  workers: { type: "string" },
  timeout: { type: "string" },
  memory: { type: "string" },
  markdown: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

class UsageError extends Error {}

type Values = ReturnType<typeof parse>["values"];

function parse(argv: string[]) {
  // `pnpm fuzz -- --count 2000` passes the "--" through.
  return parseArgs({ args: argv.filter((arg) => arg !== "--"), options: OPTIONS, allowPositionals: true });
}

function integer(values: Values, name: keyof Values, fallback: number): number {
  const text = values[name];
  if (text === undefined) return fallback;
  const value = Number(text);
  if (typeof text !== "string" || !Number.isSafeInteger(value) || value < 0)
    throw new UsageError(`--${name} wants a whole number, not ${String(text)}`);
  return value;
}

function profile(values: Values, fallback: Profile): Profile {
  const text = values.profile ?? fallback;
  if (text !== "short" && text !== "full") throw new UsageError(`--profile is short or full, not ${text}`);
  return text;
}

const progress = (line: string) => process.stderr.write(`${line}\n`);

async function report(values: Values): Promise<number> {
  const result = await runConformance({
    profile: profile(values, "full"),
    seed: integer(values, "seed", 1),
    fuzzCount: integer(values, "fuzz-count", 2000),
    ...(values.workers === undefined ? {} : { workers: integer(values, "workers", 2) }),
    onProgress: progress,
  });
  process.stdout.write(values.json ? `${JSON.stringify(result, null, 2)}\n` : `${formatReportText(result)}\n`);
  if (values.markdown !== undefined) {
    const command = `pnpm conformance -- --profile ${result.profile} --seed ${result.seed} --fuzz-count ${result.fuzz.mutants}`;
    writeFileSync(resolve(values.markdown), formatReportMarkdown(result, command));
    progress(`wrote ${values.markdown}`);
  }
  return result.passed ? 0 : 1;
}

async function fuzz(values: Values): Promise<number> {
  const limits = {
    ...(values.workers === undefined ? {} : { workers: integer(values, "workers", 2) }),
    ...(values.timeout === undefined ? {} : { timeoutMs: integer(values, "timeout", 20_000) }),
    ...(values.memory === undefined ? {} : { memoryLimitMiB: integer(values, "memory", 512) }),
  };
  const seed = integer(values, "seed", Date.now() % 1_000_000);
  const count = integer(values, "count", 500);
  const onProgress = (done: number, total: number) => {
    if (done % 100 === 0 || done === total) progress(`${done}/${total} mutants`);
  };
  const summary = await runFuzz({ seed, count, replay: true, ...limits, onProgress });
  const failures = summary.failures;
  for (const failure of failures)
    process.stdout.write(`FAIL ${failure.caseName} (${failure.seedImage}; ${failure.mutation}): ${failure.problem}\n`);
  process.stdout.write(
    `seed ${seed}: ${summary.regressionsReplayed} regression cases replayed, ${summary.mutants} mutants, ${summary.refused} refused, ${summary.accepted} accepted, ${failures.length} failures\n`,
  );
  return failures.length === 0 ? 0 : 1;
}

async function crash(values: Values): Promise<number> {
  const summary = await runCrashTests({
    seed: integer(values, "seed", 1),
    profile: profile(values, "short"),
    onProgress: progress,
  });
  for (const f of summary.failures)
    process.stdout.write(`FAIL ${f.workload} cut ${f.cutPoint} (${f.mode}): ${f.problem}\n`);
  process.stdout.write(
    `${summary.workloads.length} workloads, ${summary.cuts} power cuts, ${summary.qemuChecked} qemu-img checks, ${summary.failures.length} failures\n`,
  );
  return summary.failures.length === 0 ? 0 : 1;
}

async function corpus(values: Values, positionals: string[]): Promise<number> {
  const dir = positionals[0];
  if (dir === undefined) throw new UsageError("corpus wants the folder to build into");
  const images = await buildCorpus(resolve(dir), { profile: profile(values, "short"), onProgress: progress });
  for (const image of images)
    process.stdout.write(`${image.name}\t${image.origin}\t${image.path}\t${image.features.join(",")}\n`);
  return 0;
}

async function main(argv: string[]): Promise<number> {
  try {
    const { values, positionals } = parse(argv);
    const [command, ...rest] = positionals;
    if (values.help || command === undefined) {
      process.stdout.write(`${USAGE}\n`);
      return values.help ? 0 : 2;
    }
    if (command === "report") return await report(values);
    if (command === "fuzz") return await fuzz(values);
    if (command === "crash") return await crash(values);
    if (command === "corpus") return await corpus(values, rest);
    throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      process.stderr.write(`vhdx-conformance: ${(error as Error).message}\n${USAGE}\n`);
      return 2;
    }
    throw error;
  }
}

process.exitCode = await main(process.argv.slice(2));
