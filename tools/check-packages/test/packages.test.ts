import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { codeSubpaths, listPackages, manifestProblems, readmeExample } from "../packages.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const packages = listPackages(root);

// README examples that need a real image get one as their first argument:
// a small dynamic VHDX written by qemu-img (so not by us), with some data in it.
let sampleDir: string;
let sampleImage: string;
beforeAll(() => {
  sampleDir = mkdtempSync(join(tmpdir(), "readme-examples-"));
  sampleImage = join(sampleDir, "sample.vhdx");
  execFileSync("qemu-img", ["create", "-q", "-f", "vhdx", "-o", "subformat=dynamic", sampleImage, "64M"]);
  execFileSync("qemu-io", ["-c", "write -P 0x5a 1M 64k", sampleImage], { stdio: "pipe" });
});
afterAll(() => rmSync(sampleDir, { recursive: true, force: true }));

describe.each(packages.map((p) => [p.name, p] as const))("@vhdx/%s", (_name, pkg) => {
  it("keeps the shared package shape", () => {
    expect(manifestProblems(pkg)).toEqual([]);
  });

  it.each(codeSubpaths(pkg.manifest))("loads %s as ESM and as CJS with the same exports", async (subpath: string) => {
    const specifier = pkg.manifest.name + subpath.slice(1);
    const requireFromPackage = createRequire(join(pkg.dir, "package.json"));
    const viaRequire = requireFromPackage(specifier);
    const esmPath = requireFromPackage.resolve(specifier).replace(/\.cjs$/, ".js");
    const viaImport = await import(pathToFileURL(esmPath).href);
    const names = Object.keys(viaImport).sort();
    expect(names.length).toBeGreaterThan(0);
    expect(Object.keys(viaRequire).sort()).toEqual(names);
  });

  it("runs the README example", () => {
    const example = readmeExample(readFileSync(join(pkg.dir, "README.md"), "utf8"));
    expect(example).not.toBeNull();
    const file = join(pkg.dir, `.readme-example-${process.pid}.mjs`);
    writeFileSync(file, example);
    try {
      execFileSync(process.execPath, [file, sampleImage], { cwd: pkg.dir, stdio: "pipe", timeout: 60_000 });
    } catch (error) {
      const stderr = (error as { stderr?: Buffer }).stderr;
      throw new Error(`README example of @vhdx/${pkg.name} failed:\n${stderr?.toString() ?? error}`);
    } finally {
      rmSync(file, { force: true });
    }
  });
});

describe("the shape checks themselves", () => {
  const good = {
    name: "demo",
    dir: join(root, "packages", "crc32c"),
    manifest: { ...packages.find((p: { name: string }) => p.name === "crc32c").manifest, name: "@vhdx/demo" },
  };

  it("accept a package that keeps the shape", () => {
    expect(manifestProblems(good)).toEqual([]);
  });

  it("reject exports with types not first, and a missing sideEffects flag", () => {
    const manifest = {
      ...good.manifest,
      sideEffects: undefined,
      exports: {
        ".": {
          import: "./dist/index.js",
          types: "./dist/index.d.ts",
          "@vhdx/source": "./src/index.ts",
          require: "./dist/index.cjs",
        },
      },
    };
    const problems = manifestProblems({ ...good, manifest });
    expect(problems).toHaveLength(2);
    expect(problems.join("\n")).toMatch(/sideEffects/);
    expect(problems.join("\n")).toMatch(/types, @vhdx\/source, import, require/);
  });

  it("reject exports without a source condition, or one that is not a source file", () => {
    const withEntry = (entry: object) =>
      manifestProblems({ ...good, manifest: { ...good.manifest, exports: { ".": entry } } });
    const dist = { import: "./dist/index.js", require: "./dist/index.cjs" };
    expect(withEntry({ types: "./dist/index.d.ts", ...dist }).join("\n")).toMatch(
      /types, @vhdx\/source, import, require[\s\S]*source"\] should name/,
    );
    expect(withEntry({ types: "./dist/index.d.ts", ...dist, "@vhdx/source": "./src/index.ts" }).join("\n")).toMatch(
      /in that order/,
    );
    expect(withEntry({ types: "./dist/index.d.ts", "@vhdx/source": "./dist/index.js", ...dist }).join("\n")).toMatch(
      /source"\] should name/,
    );
    expect(
      withEntry({ types: "./dist/index.d.ts", "@vhdx/source": "./src/no-such-file.ts", ...dist }).join("\n"),
    ).toMatch(/no-such-file/);
    expect(withEntry({ types: "./dist/index.d.ts", "@vhdx/source": "./src/index.ts", ...dist })).toEqual([]);
  });

  it("reject shipping sources, tests or a folder that is not there, and accept a data folder that is", () => {
    const shipping = (files: string[]) => manifestProblems({ ...good, manifest: { ...good.manifest, files } });
    expect(shipping(["dist", "src"]).join("\n")).toMatch(/"src", which is missing or must not ship/);
    expect(shipping(["dist", "no-such-folder"]).join("\n")).toMatch(/no-such-folder/);
    expect(shipping(["src", "dist"]).join("\n")).toMatch(/should start \["dist"\]/);
    expect(shipping(["dist", "test"])).toHaveLength(1);
    const withData = {
      ...good,
      dir: join(root, "packages", "conformance"),
      manifest: { ...good.manifest, files: ["dist", "regressions"] },
    };
    expect(manifestProblems(withData)).toEqual([]);
  });

  it("find the example block of a README and nothing when it is missing", () => {
    expect(readmeExample("# x\n\n## Example\n\n```js\nconsole.log(1);\n```\n\n## API\n")).toBe("console.log(1);\n");
    expect(readmeExample("# x\n\n## Example\n\nnone\n\n## API\n\n```js\nx\n```\n")).toBeNull();
  });
});
