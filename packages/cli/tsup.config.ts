import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { defineConfig } from "tsup";

/**
 * The command is bundled with the sources of the @vhdx packages it uses
 * rather than importing their dist bundles: Node then loads a few files
 * instead of resolving six packages, and esbuild splits per source module, so
 * `vhdx --version` loads no image code and `vhdx info` no check code. Start-up
 * is most of what `vhdx info` costs (see tools/bench). The library entry
 * (`index`) keeps importing the packages, as a library should.
 */
const fromWorkspaceSources = {
  name: "vhdx-workspace-sources",
  setup(build: { onResolve(options: { filter: RegExp }, callback: (args: { path: string }) => { path: string } | undefined): void }) {
    build.onResolve({ filter: /^@vhdx\/[a-z0-9-]+(\/[a-z0-9-]+)?$/ }, ({ path }) => {
      const [, name, subpath] = /^@vhdx\/([^/]+)(?:\/(.+))?$/.exec(path)!;
      const source = fileURLToPath(new URL(`../${name}/src/${subpath === undefined ? "" : `${subpath}/`}index.ts`, import.meta.url));
      return existsSync(source) ? { path: source } : undefined;
    });
  },
};

export default defineConfig([
  {
    entry: { index: "src/index.ts" },
    format: ["esm", "cjs"],
    dts: true,
    clean: false,
    sourcemap: true,
    target: "es2022",
  },
  {
    // The command itself: ESM, split per subcommand so each run loads only what it needs.
    entry: { vhdx: "src/bin.ts" },
    format: ["esm"],
    splitting: true,
    sourcemap: true,
    target: "es2022",
    banner: { js: "#!/usr/bin/env node" },
    noExternal: [/^@vhdx\//],
    esbuildPlugins: [fromWorkspaceSources],
    // Less for V8 to parse at every start (3 to 4 ms of `vhdx info`); names
    // are kept, so --debug stack traces still say where.
    minifyWhitespace: true,
    minifySyntax: true,
  },
]);
