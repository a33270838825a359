// The shape every published package keeps (STYLE.md), as checks a test runs.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const UNSHIPPED_FOLDERS = ["src", "test", "bench", "node_modules"];

export const REQUIRED_README_SECTIONS = ["## Install", "## Example", "## API", "## Errors"];

/** The published packages: folders under packages/ with a package.json that is not private (the web page is), sorted. */
export function listPackages(root) {
  const dir = join(root, "packages");
  return readdirSync(dir)
    .filter((name) => existsSync(join(dir, name, "package.json")))
    .sort()
    .map((name) => ({
      name,
      dir: join(dir, name),
      manifest: JSON.parse(readFileSync(join(dir, name, "package.json"), "utf8")),
    }))
    .filter((pkg) => pkg.manifest.private !== true);
}

/** Problems with a package's manifest and files, as sentences; empty when it keeps the shape. */
export function manifestProblems({ name, dir, manifest }) {
  const problems = [];
  const expect = (ok, text) => ok || problems.push(`${name}: ${text}`);
  expect(manifest.name === `@vhdx/${name}`, `name should be @vhdx/${name}`);
  expect(manifest.type === "module", `"type" should be "module"`);
  expect(manifest.sideEffects === false, `"sideEffects" should be false`);
  const binFolders = Object.values(manifest.bin ?? {}).map((path) => path.replace(/^\.\//, "").split("/")[0]);
  const requiredFiles = ["dist", ...new Set(binFolders.filter((folder) => folder !== "dist"))];
  const files = manifest.files ?? [];
  expect(
    JSON.stringify(files.slice(0, requiredFiles.length)) === JSON.stringify(requiredFiles),
    `"files" should start ${JSON.stringify(requiredFiles)}`,
  );
  for (const extra of files.slice(requiredFiles.length)) {
    // Data a package ships beside its code (the conformance regression cases): never sources or tests.
    const ok = !UNSHIPPED_FOLDERS.includes(extra) && existsSync(join(dir, extra));
    expect(ok, `"files" names ${JSON.stringify(extra)}, which is missing or must not ship`);
  }
  expect(manifest.engines?.node === ">=20", `"engines.node" should be ">=20"`);
  expect(typeof manifest.license === "string", `"license" is missing`);
  const exportsMap = manifest.exports ?? {};
  expect("." in exportsMap, `"exports" needs a "." entry`);
  for (const [subpath, target] of Object.entries(exportsMap)) {
    if (subpath === "./package.json") continue;
    const keys = Object.keys(target ?? {});
    expect(
      JSON.stringify(keys.slice(0, 4)) === '["types","@vhdx/source","import","require"]',
      `exports["${subpath}"] should list types, @vhdx/source, import, require in that order (found ${keys.join(", ")})`,
    );
    // "@vhdx/source" is the condition our own tools set (the command's bundle,
    // vitest) to use a package's TypeScript sources; Node and bundlers of
    // consumers never set it, and src/ is not shipped, so they get dist/.
    const source = target?.["@vhdx/source"];
    expect(
      typeof source === "string" && /^\.\/src\/.+\.ts$/.test(source) && existsSync(join(dir, source)),
      `exports["${subpath}"]["@vhdx/source"] should name a .ts file under ./src that exists (found ${JSON.stringify(source)})`,
    );
  }
  for (const script of ["build", "test", "typecheck"]) {
    expect(typeof manifest.scripts?.[script] === "string", `a "${script}" script is missing`);
  }
  expect(existsSync(join(dir, "test")), "a test/ folder is missing");
  expect(existsSync(join(dir, "bench")), "a bench/ folder is missing");
  const readmePath = join(dir, "README.md");
  const readme = existsSync(readmePath) ? readFileSync(readmePath, "utf8") : "";
  expect(readme.length > 0, "README.md is missing");
  for (const section of REQUIRED_README_SECTIONS) {
    expect(readme.includes(`\n${section}\n`), `README.md lacks a "${section}" section`);
  }
  expect(readmeExample(readme) !== null, "README.md's Example section has no js code block");
  return problems;
}

/** The first ```js block after "## Example", or null. */
export function readmeExample(readme) {
  const section = readme.split(/\n## Example\n/)[1];
  if (section === undefined) return null;
  const match = /```(?:js|javascript|mjs)\n([\s\S]*?)```/.exec(section.split(/\n## /)[0]);
  return match ? match[1] : null;
}

/** Subpaths of the exports map that load code (not package.json). */
export function codeSubpaths(manifest) {
  return Object.keys(manifest.exports ?? {}).filter((subpath) => subpath !== "./package.json");
}
