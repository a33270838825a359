// The layering picture of ../../../shared/DESIGN.md as data, and a checker
// that reads a repository's packages/ and reports every place that breaks it.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { builtinModules } from "node:module";
import { join, relative } from "node:path";
import { importCycles } from "./cycles.mjs";

/** For each package (by folder name under packages/), the @vhdx packages it may use. */
export const ALLOWED_DEPENDENCIES = {
  crc32c: [],
  guid: [],
  structs: ["crc32c", "guid"],
  bat: ["structs", "crc32c", "guid"],
  log: ["structs", "crc32c", "guid"],
  image: ["bat", "log", "structs", "crc32c", "guid"],
  cli: ["image", "bat", "log", "structs", "crc32c", "guid"],
  conformance: ["cli", "image", "bat", "log", "structs", "crc32c", "guid"],
  web: ["image", "bat", "log", "structs", "crc32c", "guid"],
};

/** Packages that must run unchanged in a browser: no Node APIs, no Node or DOM types. */
export const PORTABLE_PACKAGES = ["crc32c", "guid", "structs", "bat", "log"];

/**
 * Packages whose main entry must run in a browser too, with Node-only code
 * kept in the named folders under src/ (published as a subpath like /node).
 * They may use web APIs (fetch, Blob), not Node's.
 */
export const BROWSER_ENTRY_PACKAGES = { image: ["node"] };

const FORBIDDEN_GLOBALS = ["Buffer", "process", "fetch", "require", "__dirname", "__filename"];
const FORBIDDEN_BROWSER_GLOBALS = ["Buffer", "process", "require", "__dirname", "__filename"];
const NODE_BUILTINS = new Set(builtinModules.flatMap((name) => [name, name.split("/")[0]]));

const SPECIFIER_PATTERNS = [
  /\b(?:import|export)\s[^'"`;]*?\bfrom\s*(['"])([^'"]+)\1/g,
  /\bimport\s*(['"])([^'"]+)\1/g,
  /\bimport\s*\(\s*(['"])([^'"]+)\1\s*\)/g,
  /\brequire\s*\(\s*(['"])([^'"]+)\1\s*\)/g,
];

/**
 * Checks every package under `root`/packages. Returns a list of
 * `{ package, file, rule, detail }`; an empty list means the layering holds.
 */
export function checkLayering(root) {
  const packagesDir = join(root, "packages");
  const violations = [];
  for (const name of readdirSync(packagesDir).sort()) {
    const dir = join(packagesDir, name);
    if (!existsSync(join(dir, "package.json"))) continue;
    const report = (file, rule, detail) => violations.push({ package: name, file: relative(root, file), rule, detail });
    checkPackage(name, dir, report);
  }
  return violations;
}

function checkPackage(name, dir, report) {
  const manifestPath = join(dir, "package.json");
  const allowed = ALLOWED_DEPENDENCIES[name];
  if (allowed === undefined) {
    report(manifestPath, "unknown-package", `packages/${name} is not in the layering picture`);
    return;
  }
  const manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
  const declared = new Set();
  for (const field of ["dependencies", "devDependencies", "peerDependencies", "optionalDependencies"]) {
    for (const dependency of Object.keys(manifest[field] ?? {})) {
      const layer = vhdxLayer(dependency);
      if (layer === null) continue;
      declared.add(layer);
      if (!allowed.includes(layer)) {
        report(manifestPath, "forbidden-dependency", `${field} names ${dependency}, which @vhdx/${name} may not use`);
      }
    }
  }
  const portable = PORTABLE_PACKAGES.includes(name);
  if (portable) checkPortableTsconfig(dir, report);
  const nodeFolders = (BROWSER_ENTRY_PACKAGES[name] ?? []).map((folder) => join(dir, "src", folder));
  for (const file of sourceFiles(join(dir, "src"))) {
    const browser = name in BROWSER_ENTRY_PACKAGES && !nodeFolders.some((folder) => file.startsWith(`${folder}/`));
    checkSourceFile(file, { name, allowed, declared, portable, browser }, report);
  }
  for (const cycle of importCycles(join(dir, "src"))) {
    report(join(dir, "src", cycle[0]), "import-cycle", cycle.join(" -> "));
  }
}

function checkSourceFile(file, pkg, report) {
  const text = readFileSync(file, "utf8");
  for (const specifier of importSpecifiers(text)) {
    const layer = vhdxLayer(specifier);
    if (layer !== null && layer !== pkg.name) {
      if (!pkg.allowed.includes(layer)) {
        report(file, "forbidden-import", `imports ${specifier}, which @vhdx/${pkg.name} may not use`);
      } else if (!pkg.declared.has(layer)) {
        report(file, "undeclared-import", `imports ${specifier} without declaring it in package.json`);
      }
    }
    if ((pkg.portable || pkg.browser) && isNodeBuiltin(specifier)) {
      report(file, "node-import", `imports ${specifier}; ${where(pkg)} must run in a browser`);
    }
  }
  if (!pkg.portable && !pkg.browser) return;
  const code = stripCommentsAndStrings(text);
  for (const global of pkg.portable ? FORBIDDEN_GLOBALS : FORBIDDEN_BROWSER_GLOBALS) {
    const use = new RegExp(`(?<![.\\w$])${global}(?![\\w$])`);
    if (use.test(code)) {
      report(file, "node-global", `uses ${global}; ${where(pkg)} must run in a browser`);
    }
  }
}

function where(pkg) {
  return pkg.portable ? `@vhdx/${pkg.name}` : `the main entry of @vhdx/${pkg.name}`;
}

function checkPortableTsconfig(dir, report) {
  const path = join(dir, "tsconfig.json");
  if (!existsSync(path)) {
    report(path, "tsconfig", "a portable package needs a tsconfig.json without Node or DOM types");
    return;
  }
  const options = JSON.parse(readFileSync(path, "utf8")).compilerOptions ?? {};
  const types = options.types ?? [];
  const lib = (options.lib ?? []).map((entry) => entry.toLowerCase());
  if (types.length > 0) report(path, "tsconfig", `compilerOptions.types must stay empty, found ${types.join(", ")}`);
  if (lib.some((entry) => entry.startsWith("dom")))
    report(path, "tsconfig", "compilerOptions.lib must not include DOM");
}

export function importSpecifiers(text) {
  const found = new Set();
  const code = stripComments(text);
  for (const pattern of SPECIFIER_PATTERNS) {
    for (const match of code.matchAll(pattern)) found.add(match[2]);
  }
  return [...found];
}

function vhdxLayer(specifier) {
  const match = /^@vhdx\/([^/]+)/.exec(specifier);
  return match ? match[1] : null;
}

function isNodeBuiltin(specifier) {
  return specifier.startsWith("node:") || NODE_BUILTINS.has(specifier);
}

function stripComments(text) {
  return text.replace(/\/\*[\s\S]*?\*\//g, " ").replace(/(^|[^:\\])\/\/.*$/gm, "$1");
}

function stripCommentsAndStrings(text) {
  return stripComments(text).replace(/(["'`])(?:\\[\s\S]|(?!\1)[^\\])*\1/g, '""');
}

function* sourceFiles(dir) {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir).sort()) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) yield* sourceFiles(path);
    else if (/\.(?:[cm]?[jt]sx?)$/.test(entry) && !entry.endsWith(".d.ts")) yield path;
  }
}
