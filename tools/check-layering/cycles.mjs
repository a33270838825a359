// Import cycles inside one package's src/: module A imports B, which (through
// any number of modules) imports A again. Static imports, re-exports and
// dynamic import() all count, and so do type-only imports: a cycle of types is
// still two modules that cannot be read, tested or moved one without the other.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const SPECIFIER_PATTERNS = [
  /\b(?:import|export)\s[^'"`;]*?\bfrom\s*(['"])([^'"]+)\1/g,
  /\bimport\s*(['"])([^'"]+)\1/g,
  /\bimport\s*\(\s*(['"])([^'"]+)\1\s*\)/g,
];

const SOURCE_FILE = /\.(?:[cm]?[jt]sx?)$/;

/**
 * The import cycles among the source files under `srcDir`, each as the list
 * of its files relative to `srcDir`, the first repeated at the end
 * (`["a.ts", "b.ts", "a.ts"]`). Sorted; empty when there are none.
 */
export function importCycles(srcDir) {
  const files = [...sourceFiles(resolve(srcDir))];
  const known = new Set(files);
  const edges = new Map(files.map((file) => [file, localImports(file, known)]));
  return stronglyConnected(files, edges)
    .filter((component) => component.length > 1 || edges.get(component[0]).includes(component[0]))
    .map((component) => cycleThrough(component, edges).map((file) => relative(resolve(srcDir), file)))
    .sort((a, b) => a.join().localeCompare(b.join()));
}

/** The files under src/ that `file` imports through relative specifiers. */
function localImports(file, known) {
  const code = readFileSync(file, "utf8")
    .replace(/\/\*[\s\S]*?\*\//g, " ")
    .replace(/(^|[^:\\])\/\/.*$/gm, "$1");
  const found = new Set();
  for (const pattern of SPECIFIER_PATTERNS) {
    for (const match of code.matchAll(pattern)) {
      const specifier = match[2];
      if (!specifier.startsWith(".")) continue;
      const target = resolveLocal(resolve(dirname(file), specifier), known);
      if (target !== null) found.add(target);
    }
  }
  return [...found].sort();
}

/** `./x.js` as TypeScript writes it names x.ts; `./x` names x.ts or x/index.ts. */
function resolveLocal(path, known) {
  const stem = path.replace(/\.[cm]?jsx?$/, "");
  for (const candidate of [path, `${stem}.ts`, `${stem}.tsx`, `${stem}.mts`, `${stem}.cts`, join(path, "index.ts")]) {
    if (known.has(candidate)) return candidate;
  }
  return null;
}

/** Tarjan's strongly connected components, each sorted. */
function stronglyConnected(nodes, edges) {
  let counter = 0;
  const index = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const components = [];
  const visit = (node) => {
    index.set(node, counter);
    low.set(node, counter++);
    stack.push(node);
    onStack.add(node);
    for (const next of edges.get(node)) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node), low.get(next)));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node), index.get(next)));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component = [];
      let member;
      do {
        member = stack.pop();
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      components.push(component.sort());
    }
  };
  for (const node of nodes) if (!index.has(node)) visit(node);
  return components;
}

/** One cycle inside a strongly connected component, from its first file back to it (breadth first: a shortest one). */
function cycleThrough(component, edges) {
  const members = new Set(component);
  const start = component[0];
  const previous = new Map();
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift();
    for (const next of edges.get(node)) {
      if (!members.has(next)) continue;
      if (next === start) {
        const path = [node];
        while (path[0] !== start) path.unshift(previous.get(path[0]));
        return [...path, start];
      }
      if (!previous.has(next)) {
        previous.set(next, node);
        queue.push(next);
      }
    }
  }
  return [start, start];
}

function* sourceFiles(dir) {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir).sort()) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) yield* sourceFiles(path);
    else if (SOURCE_FILE.test(entry) && !entry.endsWith(".d.ts")) yield path;
  }
}
