// Kept failing mutants: every mutant that ever failed is saved as
// `<hash>.vhdx.gz` (mutants are mostly zeros) with `<hash>.json` saying where
// it came from and what went wrong, and its parents as
// `<hash>.parent.vhdx.gz`. The suite replays them all on every run.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import type { SeedFile } from "./seeds.js";

export interface RegressionCase {
  /** The case's name: the first 12 hex digits of the mutant's SHA-256. */
  caseName: string;
  seedImage: string;
  mutation: string;
  /** The problem when the case was kept. */
  problem: string;
  /** The file name the mutant must have (a locator may name it). */
  fileName: string;
  /** Files that sit beside it, each stored gzipped under `stored`. */
  parents: Array<{ fileName: string; stored: string }>;
}

export interface FailingMutant {
  bytes: Uint8Array;
  fileName: string;
  parents: readonly SeedFile[];
  seedImage: string;
  mutation: string;
}

function shortHash(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex").slice(0, 12);
}

/** Saves a failing mutant (once: a case already kept is left as it is). Returns the case name. */
export function saveCase(dir: string, mutant: FailingMutant, problem: string): string {
  mkdirSync(dir, { recursive: true });
  const caseName = shortHash(mutant.bytes);
  const metaPath = join(dir, `${caseName}.json`);
  if (existsSync(metaPath)) return caseName;
  const parents = mutant.parents.map((parent) => {
    const stored = `${shortHash(parent.bytes)}.parent.vhdx.gz`;
    if (!existsSync(join(dir, stored))) writeFileSync(join(dir, stored), gzipSync(parent.bytes, { level: 9 }));
    return { fileName: parent.fileName, stored };
  });
  writeFileSync(join(dir, `${caseName}.vhdx.gz`), gzipSync(mutant.bytes, { level: 9 }));
  const meta: RegressionCase = {
    caseName,
    seedImage: mutant.seedImage,
    mutation: mutant.mutation,
    problem,
    fileName: mutant.fileName,
    parents,
  };
  writeFileSync(metaPath, `${JSON.stringify(meta, null, 2)}\n`);
  return caseName;
}

/** Every kept case, by name. */
export function loadCases(dir: string): RegressionCase[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => name.endsWith(".json"))
    .sort()
    .map((name) => JSON.parse(readFileSync(join(dir, name), "utf8")) as RegressionCase);
}

/** Writes a case's mutant and parents into `into`; returns the mutant's path and its parents'. */
export function materializeCase(
  dir: string,
  kept: RegressionCase,
  into: string,
): { path: string; parentPaths: string[] } {
  mkdirSync(into, { recursive: true });
  const path = join(into, kept.fileName);
  writeFileSync(path, gunzipSync(readFileSync(join(dir, `${kept.caseName}.vhdx.gz`))));
  const parentPaths = kept.parents.map((parent) => {
    const parentPath = join(into, parent.fileName);
    writeFileSync(parentPath, gunzipSync(readFileSync(join(dir, parent.stored))));
    return parentPath;
  });
  return { path, parentPaths };
}
