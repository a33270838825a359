import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { checkLayering, importSpecifiers } from "../layering.mjs";

const repositoryRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const roots: string[] = [];

/** A throwaway repository with the given packages: name -> { deps, files, tsconfig }. */
function fakeRepository(
  packages: Record<string, { deps?: string[]; files?: Record<string, string>; tsconfig?: object }>,
) {
  const root = mkdtempSync(join(tmpdir(), "layering-"));
  roots.push(root);
  for (const [name, spec] of Object.entries(packages)) {
    const dir = join(root, "packages", name);
    mkdirSync(join(dir, "src"), { recursive: true });
    const dependencies = Object.fromEntries((spec.deps ?? []).map((d) => [`@vhdx/${d}`, "workspace:*"]));
    writeFileSync(join(dir, "package.json"), JSON.stringify({ name: `@vhdx/${name}`, dependencies }));
    writeFileSync(join(dir, "tsconfig.json"), JSON.stringify(spec.tsconfig ?? { compilerOptions: {} }));
    for (const [file, text] of Object.entries(spec.files ?? { "index.ts": "export const x = 1;\n" })) {
      mkdirSync(dirname(join(dir, "src", file)), { recursive: true });
      writeFileSync(join(dir, "src", file), text);
    }
  }
  return root;
}

afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

const rules = (root: string) =>
  checkLayering(root).map((v: { package: string; rule: string }) => `${v.package}:${v.rule}`);

describe("check-layering", () => {
  it("passes on this repository", () => {
    expect(checkLayering(repositoryRoot)).toEqual([]);
  });

  it("passes on a tree that keeps to the picture", () => {
    const root = fakeRepository({
      crc32c: {},
      guid: {},
      structs: {
        deps: ["crc32c", "guid"],
        files: {
          "index.ts": 'import { crc32c } from "@vhdx/crc32c";\n// Buffer in a comment is fine\nconst s = "process";\n',
        },
      },
      bat: { deps: ["structs"], files: { "index.ts": 'export * from "@vhdx/structs";\nconst o = { x: 1 }; o.x;\n' } },
      image: {
        deps: ["bat", "structs"],
        files: { "node/index.ts": 'import { open } from "node:fs/promises";\nprocess.exitCode = 0;\n' },
      },
    });
    expect(checkLayering(root)).toEqual([]);
  });

  it("fails when a portable package imports a Node module", () => {
    const root = fakeRepository({ structs: { files: { "index.ts": 'import { readFileSync } from "node:fs";\n' } } });
    expect(rules(root)).toEqual(["structs:node-import"]);
    const bare = fakeRepository({ bat: { files: { "a.ts": "import * as path from 'path';\n" } } });
    expect(rules(bare)).toEqual(["bat:node-import"]);
  });

  it("fails when a portable package uses Buffer, process or fetch", () => {
    const root = fakeRepository({
      crc32c: { files: { "a.ts": "export const b = Buffer.alloc(1);\n" } },
      guid: { files: { "b.ts": "export const e = process.env;\n" } },
      log: { files: { "c.ts": "export const r = await fetch(url);\n" } },
    });
    expect(rules(root)).toEqual(["crc32c:node-global", "guid:node-global", "log:node-global"]);
  });

  it("fails when a package depends on a package above it or beside it", () => {
    const root = fakeRepository({
      crc32c: { deps: ["image"] },
      bat: { deps: ["structs", "log"] },
      cli: { deps: ["conformance"] },
    });
    expect(rules(root)).toEqual([
      "bat:forbidden-dependency",
      "cli:forbidden-dependency",
      "crc32c:forbidden-dependency",
    ]);
  });

  it("fails on a forbidden import even when package.json does not declare it", () => {
    const root = fakeRepository({
      log: { deps: ["structs"], files: { "replay.ts": 'import { x } from "@vhdx/bat";\n' } },
    });
    expect(rules(root)).toEqual(["log:forbidden-import"]);
  });

  it("fails on an allowed import that package.json does not declare", () => {
    const root = fakeRepository({ structs: { files: { "index.ts": 'import { crc32c } from "@vhdx/crc32c";\n' } } });
    expect(rules(root)).toEqual(["structs:undeclared-import"]);
  });

  it("keeps the image package's main entry browser-safe and lets its node folder use Node", () => {
    const root = fakeRepository({
      image: {
        files: {
          "index.ts": 'export const r = fetch("x");\n',
          "node/file.ts": 'import { open } from "node:fs/promises";\nprocess.exitCode = 0;\n',
          "sources/bad.ts": 'import { open } from "node:fs/promises";\n',
          "sources/worse.ts": "export const b = Buffer.from([]);\n",
        },
      },
    });
    expect(
      checkLayering(root).map((v: { file: string; rule: string }) => `${v.file.replace(/^.*src\//, "")}:${v.rule}`),
    ).toEqual(["sources/bad.ts:node-import", "sources/worse.ts:node-global"]);
  });

  it("fails on an import cycle inside a package, through a type import or import() too", () => {
    const root = fakeRepository({
      structs: {
        files: {
          "index.ts": 'export * from "./a.js";\n',
          "a.ts": 'import { b } from "./b.js";\n',
          "b.ts": 'import type { A } from "./a.js";\n',
        },
      },
      guid: {
        files: {
          "index.ts": 'export const load = () => import("./lazy.js");\n',
          "lazy.ts": 'import { load } from "./index.js";\n',
        },
      },
      crc32c: { files: { "index.ts": 'import "./index.js";\n' } },
      log: {
        files: {
          "index.ts": 'import { x } from "./one/index.js";\n',
          "one/index.ts": 'export { y } from "../two.js";\n',
          "two.ts": 'import "./one";\n',
        },
      },
    });
    expect(
      checkLayering(root).map(
        (v: { package: string; rule: string; detail: string }) => `${v.package}:${v.rule}: ${v.detail}`,
      ),
    ).toEqual([
      "crc32c:import-cycle: index.ts -> index.ts",
      "guid:import-cycle: index.ts -> lazy.ts -> index.ts",
      "log:import-cycle: one/index.ts -> two.ts -> one/index.ts",
      "structs:import-cycle: a.ts -> b.ts -> a.ts",
    ]);
  });

  it("finds no cycle in a chain or a diamond of imports", () => {
    const root = fakeRepository({
      structs: {
        files: {
          "index.ts": 'export * from "./a.js";\nexport * from "./b.js";\n',
          "a.ts": 'import { c } from "./c.js";\n',
          "b.ts": 'import type { C } from "./c.js";\n// import { a } from "./a.js";\n',
          "c.ts": "export const c = 1;\n",
        },
      },
    });
    expect(checkLayering(root)).toEqual([]);
  });

  it("fails on a package the picture does not know", () => {
    const root = fakeRepository({ extras: {} });
    expect(rules(root)).toEqual(["extras:unknown-package"]);
  });

  it("fails when a portable package's tsconfig brings Node or DOM types", () => {
    const root = fakeRepository({
      structs: { tsconfig: { compilerOptions: { types: ["node"] } } },
      bat: { tsconfig: { compilerOptions: { lib: ["ES2022", "DOM"] } } },
    });
    expect(rules(root)).toEqual(["bat:tsconfig", "structs:tsconfig"]);
  });

  it("finds import specifiers of every form and ignores commented ones", () => {
    const text = [
      'import a from "one";',
      "import { b,\n c } from 'two';",
      'export * from "three";',
      'import "four";',
      'const d = await import("five");',
      'const e = require("six");',
      '// import x from "seven";',
      '/* import y from "eight"; */',
    ].join("\n");
    expect(importSpecifiers(text).sort()).toEqual(["five", "four", "one", "six", "three", "two"]);
  });
});
