// The fuzzer end to end: a short run over worker processes (zero failures,
// both refusals and acceptances), proof that the runner catches a hang, a
// memory blow-up, a dying worker and a TypeError, and the replay of every
// kept regression case. Needs dist/fuzz-worker.js (npx tsup).
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { tempDir } from "@vhdx-tools/oracles";
import { afterAll, describe, expect, it } from "vitest";
import { loadCases, saveCase } from "../src/fuzz/regressions.js";
import { replayRegressions, runFuzz } from "../src/fuzz/runner.js";

const packageDir = fileURLToPath(new URL("..", import.meta.url));
const dir = tempDir("vhdx-fuzz-test-");
afterAll(() => dir.remove());

describe("a short fuzz run", () => {
  it("checks every mutant with no failure, exercising refusals and acceptances", async () => {
    let progressCalls = 0;
    const summary = await runFuzz({
      seed: 1,
      count: 150,
      workers: 2,
      recycleAfter: 40,
      // A failure here is kept in regressions/, like any other.
      onProgress: () => progressCalls++,
    });
    expect(summary.failures, JSON.stringify(summary.failures, null, 2)).toEqual([]);
    expect(summary.mutants).toBe(150);
    expect(summary.refused).toBeGreaterThan(0);
    expect(summary.accepted).toBeGreaterThan(0);
    expect(summary.refused + summary.accepted).toBe(150);
    expect(progressCalls).toBe(150);
  }, 120_000);
});

describe("the runner notices a misbehaving worker", () => {
  it("reports a hang, memory over the limit, a dying worker and a TypeError, keeps each case, and goes on", async () => {
    const regressionsDir = dir.file("hook-regressions");
    const summary = await runFuzz({
      seed: 2,
      count: 6,
      workers: 2,
      timeoutMs: 3000,
      memoryLimitMiB: 512,
      regressionsDir,
      hooks: { 0: "hang", 1: "allocate", 2: "exit", 3: "type-error" },
    });
    const problems = summary.failures.map((f) => f.problem).sort();
    expect(summary.mutants).toBe(6);
    expect(problems).toHaveLength(4);
    expect(problems.some((p) => p === "timeout after 3000 ms")).toBe(true);
    expect(problems.some((p) => /^rss \d+ MiB \(limit 512 MiB\)$/.test(p))).toBe(true);
    expect(problems.some((p) => /^the worker died \(exit status 70\)/.test(p))).toBe(true);
    expect(problems.some((p) => /^library: TypeError: /.test(p))).toBe(true);
    expect(summary.refused + summary.accepted).toBe(2);
    const kept = loadCases(regressionsDir);
    expect(kept.map((c) => c.caseName).sort()).toEqual([...new Set(summary.failures.map((f) => f.caseName))].sort());
    for (const c of kept) expect(existsSync(join(regressionsDir, `${c.caseName}.vhdx.gz`))).toBe(true);
  }, 60_000);
});

describe("regression cases", () => {
  it("replays a kept case, with its parents beside it", async () => {
    const regressionsDir = dir.file("replay-regressions");
    const seedBytes = readFileSync(join(packageDir, "package.json"));
    saveCase(
      regressionsDir,
      {
        bytes: new Uint8Array(seedBytes),
        fileName: "mutant.vhdx",
        parents: [{ fileName: "parent.vhdx", bytes: new Uint8Array(8) }],
        seedImage: "none",
        mutation: "a JSON file",
      },
      "test",
    );
    expect(readdirSync(regressionsDir).sort()).toHaveLength(3);
    const result = await replayRegressions({ regressionsDir, workers: 1 });
    expect(result).toEqual({ replayed: 1, failures: [] });
  }, 60_000);

  it("replays every case kept in regressions/ without a failure", async () => {
    const result = await replayRegressions({ workers: 2 });
    expect(result.replayed).toBe(loadCases(join(packageDir, "regressions")).length);
    expect(result.failures, JSON.stringify(result.failures, null, 2)).toEqual([]);
  }, 120_000);
});
