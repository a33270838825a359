import { defineConfig } from "tsup";

/**
 * The library entry (`index`) and the command (`vhdx`) are one ES module
 * build, split per source module: each command is one chunk that both use,
 * `vhdx --version` loads no image code and `vhdx info` no check code.
 *
 * The @vhdx packages are bundled from their TypeScript sources, found through
 * the "@vhdx/source" condition of their package.json exports (tools/check-packages
 * requires one in every package): Node then loads a few files instead of
 * resolving six packages, and start-up is most of what `vhdx info` costs (see
 * tools/bench). Everything else stays external: the dependencies in
 * package.json (fs-native-extensions, a native addon, in particular).
 */
const fromSources = { conditions: ["@vhdx/source"] };

export default defineConfig([
  {
    entry: { index: "src/index.ts", vhdx: "src/bin.ts" },
    format: ["esm"],
    splitting: true,
    dts: { entry: { index: "src/index.ts" } },
    clean: false,
    sourcemap: true,
    target: "es2022",
    noExternal: [/^@vhdx\//],
    esbuildOptions(options) {
      Object.assign(options, fromSources);
    },
    // Less for V8 to parse at every start (3 to 4 ms of `vhdx info`); names
    // are kept, so --debug stack traces still say where.
    minifyWhitespace: true,
    minifySyntax: true,
  },
  {
    // dist/index.cjs: the small synchronous exports, and a runCli that
    // imports dist/index.js, so the commands are not built a second time.
    entry: { index: "src/commonjs.ts" },
    format: ["cjs"],
    clean: false,
    sourcemap: true,
    target: "es2022",
    noExternal: [/^@vhdx\//],
    esbuildOptions(options) {
      Object.assign(options, fromSources);
      options.external = [...(options.external ?? []), "./index.js"];
    },
  },
]);
