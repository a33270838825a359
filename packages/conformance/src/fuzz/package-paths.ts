// Where the package's files are, whether this code runs bundled from dist/ or
// from src/ under vitest: walk up to the package.json named @vhdx/conformance.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const PACKAGE_NAME = "@vhdx/conformance";

function packageDir(): string {
  let dir = dirname(thisFile());
  for (;;) {
    if (isThePackage(join(dir, "package.json"))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`cannot find the ${PACKAGE_NAME} package folder above ${thisFile()}`);
    dir = up;
  }
}

/** dist/fuzz-worker.js; an error that says to build when it is missing. */
export function workerPath(): string {
  const path = join(packageDir(), "dist", "fuzz-worker.js");
  if (!existsSync(path)) {
    throw new Error(
      `the fuzzer's worker ${path} is missing: build the package first (cd packages/conformance && npx tsup)`,
    );
  }
  return path;
}

/** The kept failing mutants: packages/conformance/regressions. */
export function defaultRegressionsDir(): string {
  return join(packageDir(), "regressions");
}

function thisFile(): string {
  // The CommonJS build has __filename and no import.meta.url; the ESM build the reverse.
  return typeof __filename === "string" ? __filename : fileURLToPath(import.meta.url);
}

function isThePackage(path: string): boolean {
  try {
    return (JSON.parse(readFileSync(path, "utf8")) as { name?: unknown }).name === PACKAGE_NAME;
  } catch {
    return false;
  }
}
