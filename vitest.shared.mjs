// Shared vitest settings for every workspace package: the usual console
// output, plus a JSON report per package that tools/test-summary adds up into
// the single "N passed, N failed" line printed at the end of `pnpm test`.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { configDefaults } from "vitest/config";

const root = dirname(fileURLToPath(import.meta.url));

/** Vite's default conditions for code run in Node, with "@vhdx/source" first. */
const SOURCE_CONDITIONS = ["@vhdx/source", "module", "node", "development|production"];

/**
 * @param {string} configUrl the package's vitest.config import.meta.url
 * @param {{ mode?: string, slow?: string[], fromSources?: boolean } & Record<string, unknown>} [options]
 *   `slow`: the package's test files that run an oracle (QEMU, libvhdi), a
 *   crash or fuzz loop, or subprocesses (signals, locks). `mode` is vitest's
 *   --mode: "unit" (`pnpm test:unit`) leaves the slow files out and writes no
 *   report; `pnpm test`, and so CI, runs every file. The rest are vitest
 *   `test` settings.
 */
export function sharedTestConfig(configUrl, { mode, slow = [], fromSources = true, ...overrides } = {}) {
  const packageDir = dirname(fileURLToPath(configUrl));
  const { name } = JSON.parse(readFileSync(join(packageDir, "package.json"), "utf8"));
  const reportName = name.replace(/^@/, "").replace(/\//g, "__");
  const unit = mode === "unit";
  if (unit && process.env.CI === "true") {
    throw new Error(
      "vitest --mode unit leaves the oracle, crash and subprocess tests out; CI runs every test (pnpm test)",
    );
  }
  return {
    // Workspace packages resolve to their TypeScript sources through the
    // "@vhdx/source" condition of their exports (see tools/check-packages), so a
    // test sees a change without a build (vitest passes the condition to
    // Node's resolution in its workers too). Code run in a child process (the
    // built command, helper scripts) still loads dist/. fromSources: false
    // for tests that check what a consumer gets.
    ...(fromSources
      ? { resolve: { conditions: SOURCE_CONDITIONS }, ssr: { resolve: { conditions: SOURCE_CONDITIONS } } }
      : {}),
    test: {
      include: ["test/**/*.test.ts"],
      exclude: unit ? [...configDefaults.exclude, ...slow] : configDefaults.exclude,
      reporters: unit ? ["default"] : ["default", "json"],
      ...(unit ? {} : { outputFile: { json: join(root, ".test-results", `${reportName}.json`) } }),
      testTimeout: 60_000,
      // Hooks build fixtures (seeds, images by qemu-img); under CI's load on 2 cores they took over vitest's 10 s.
      hookTimeout: 60_000,
      ...overrides,
    },
  };
}
