import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { pathsLeavingRepository } from "../self-contained.mjs";

const repositoryRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
// Built from pieces so that this file does not name them itself.
const UP = "../";
const SHARED_OUTSIDE = ["", "work", "shared", "vectors"].join("/");

const roots: string[] = [];

/** A throwaway repository holding `files` (path -> text); the repository is one folder down. */
function fakeRepository(files: Record<string, string>): string {
  const root = join(mkdtempSync(join(tmpdir(), "self-contained-")), "repo");
  roots.push(dirname(root));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

const found = (root: string) =>
  pathsLeavingRepository(root).map((v: { file: string; line: number }) => `${v.file}:${v.line}`);

describe("no test reads outside the repository", () => {
  it("holds for this repository", () => {
    expect(pathsLeavingRepository(repositoryRoot)).toEqual([]);
  });

  it("accepts paths that stay inside, however deep the file", () => {
    const root = fakeRepository({
      "packages/structs/test/helpers.ts":
        'new URL("./vectors/libvhdi/x", import.meta.url);\nimport { a } from "../src/index.js";\n',
      "packages/conformance/src/corpus/deep.ts": `const root = "${UP.repeat(4)}";\n`,
      "tools/fixtures/test/a.test.ts": `resolve(here, "${UP.repeat(3)}");\n`,
      "packages/image/test/b.test.ts": `// the notes in ${SHARED_OUTSIDE} say so\n/* and ${UP.repeat(9)} too */\n`,
    });
    expect(found(root)).toEqual([]);
  });

  it("names each file and line that leaves it", () => {
    const root = fakeRepository({
      "packages/structs/test/helpers.ts": `const ok = 1;\nnew URL(\`${UP.repeat(4)}shared/vectors/libvhdi/\${name}\`, import.meta.url);\n`,
      "packages/crc32c/test/deep/crc.test.ts": `readFileSync("${SHARED_OUTSIDE}/libvhdi/image_header.1");\n`,
      "tools/check-packages/test/x.test.ts": `join(here, "${UP.repeat(4)}elsewhere/file");\n`,
      "tools/oracles/oracles.ts": `const notes = "${UP}${UP}shared/VHDX-NOTES.md";\n`,
      "packages/conformance/src/corpus/a.ts": `const x = "${UP.repeat(5)}outside";\n`,
      "packages/image/src/not-a-test.ts": `const y = "${UP.repeat(9)}";\n`,
    });
    expect(found(root)).toEqual([
      "packages/conformance/src/corpus/a.ts:1",
      "packages/crc32c/test/deep/crc.test.ts:1",
      "packages/structs/test/helpers.ts:2",
      "tools/check-packages/test/x.test.ts:1",
      "tools/oracles/oracles.ts:1",
    ]);
  });
});
