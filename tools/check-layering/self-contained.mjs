// Tests must read nothing outside the repository: a contributor who clones it
// alone has no ../shared beside it. This lists every place in test code (each
// test/ folder under packages/ and tools/, the conformance sources, the test
// tools) that names a path leaving the repository.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

/** Code that tests run besides the test/ folders. */
export const TEST_CODE_FOLDERS = ["packages/conformance/src", "tools/fixtures", "tools/oracles"];

const SKIPPED_FOLDERS = new Set(["node_modules", "dist", "coverage", ".turbo"]);
const CODE_FILE = /\.(?:[cm]?[jt]sx?|json|py|sh)$/;
/** The folder of design notes and vectors beside the repository, however it is reached. */
const OUTSIDE_MARKERS = [/\.\.\/shared\b/, /\/work\/shared\b/];
/** The leading ../ steps of a quoted relative path. */
const RELATIVE_PATH = /["'`]((?:\.\.\/)+)/g;

/**
 * Every line of test code under `root` that names a path outside it, as
 * `{ file, line, detail }` (file relative to root); an empty list means the
 * repository's tests are self-contained.
 */
export function pathsLeavingRepository(root) {
  const found = [];
  for (const file of testCodeFiles(root)) {
    const lines = stripComments(readFileSync(file, "utf8")).split("\n");
    lines.forEach((text, index) => {
      const detail = leavingPath(root, file, text);
      if (detail !== null) found.push({ file: relative(root, file), line: index + 1, detail });
    });
  }
  return found;
}

function leavingPath(root, file, text) {
  const marker = OUTSIDE_MARKERS.find((pattern) => pattern.test(text));
  if (marker !== undefined) return `names ${marker.exec(text)[0]}`;
  for (const match of text.matchAll(RELATIVE_PATH)) {
    const target = resolve(dirname(file), match[1]);
    if (relative(root, target).startsWith(".."))
      return `${match[1]} from ${relative(root, dirname(file))}/ leaves the repository`;
  }
  return null;
}

/** The files of every test/ folder under packages/ and tools/, and of TEST_CODE_FOLDERS. */
export function testCodeFiles(root) {
  const files = new Set();
  for (const group of ["packages", "tools"]) {
    for (const folder of foldersNamed(join(root, group), "test")) for (const file of codeFiles(folder)) files.add(file);
  }
  for (const folder of TEST_CODE_FOLDERS) for (const file of codeFiles(join(root, folder))) files.add(file);
  return [...files].sort();
}

function* foldersNamed(dir, name) {
  for (const entry of subfolders(dir)) {
    const path = join(dir, entry);
    if (entry === name) yield path;
    else yield* foldersNamed(path, name);
  }
}

function* codeFiles(dir) {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir).sort()) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) {
      if (!SKIPPED_FOLDERS.has(entry)) yield* codeFiles(path);
    } else if (CODE_FILE.test(entry)) yield path;
  }
}

function subfolders(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((entry) => !SKIPPED_FOLDERS.has(entry) && statSync(join(dir, entry)).isDirectory())
    .sort();
}

/** Comments may mention the shared notes; only code that could read a file counts. */
function stripComments(text) {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, (comment) => comment.replace(/[^\n]/g, " "))
    .replace(/(^|[^:\\])\/\/.*$/gm, "$1");
}
