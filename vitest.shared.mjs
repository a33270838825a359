// Shared vitest settings for every workspace package: the usual console
// output, plus a JSON report per package that tools/test-summary adds up into
// the single "N passed, N failed" line printed at the end of `pnpm test`.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(fileURLToPath(import.meta.url));

/** @param {string} configUrl the package's vitest.config import.meta.url */
export function sharedTestConfig(configUrl, overrides = {}) {
  const packageDir = dirname(fileURLToPath(configUrl));
  const { name } = JSON.parse(readFileSync(join(packageDir, "package.json"), "utf8"));
  const reportName = name.replace(/^@/, "").replace(/\//g, "__");
  return {
    test: {
      include: ["test/**/*.test.ts"],
      reporters: ["default", "json"],
      outputFile: { json: join(root, ".test-results", `${reportName}.json`) },
      testTimeout: 60_000,
      ...overrides,
    },
  };
}
