#!/usr/bin/env node
// After `turbo run test`: reads .test-results/*.json (vitest's JSON reporter,
// one file per package) and prints one line per package and a closing
// "tests: N passed, N failed, N skipped". Exits 1 when a test failed, or when
// there is nothing to count. `--reset` removes old reports first.
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const resultsDir = resolve(dirname(fileURLToPath(import.meta.url)), "../../.test-results");

if (process.argv.includes("--reset")) {
  rmSync(resultsDir, { recursive: true, force: true });
  process.exit(0);
}

const reports = existsSync(resultsDir)
  ? readdirSync(resultsDir)
      .filter((f) => f.endsWith(".json"))
      .sort()
  : [];
let passed = 0;
let failed = 0;
let skipped = 0;
for (const file of reports) {
  const report = JSON.parse(readFileSync(join(resultsDir, file), "utf8"));
  const pending = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  const failedSuites = report.numFailedTestSuites ?? 0;
  console.log(
    `  ${file
      .replace(/\.json$/, "")
      .replace("__", "/")
      .padEnd(36)} ${report.numPassedTests} passed, ` +
      `${report.numFailedTests} failed, ${pending} skipped${failedSuites ? `, ${failedSuites} suite(s) failed to run` : ""}`,
  );
  passed += report.numPassedTests;
  failed += report.numFailedTests + failedSuites;
  skipped += pending;
}
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
if (failed > 0 || passed === 0) process.exitCode = 1;
