import { defineConfig } from "tsup";

/**
 * Three builds:
 *
 * - The library (`dist/index.js`): ES modules split per source module, each
 *   command one chunk, loaded only when it runs. `dist/vhdx.js` is a small
 *   ES module that loads the command, for scripts that run that file.
 * - The command: `dist/vhdx-program.cjs`, src/bin.ts and everything it may
 *   run as ONE CommonJS script, and `dist/vhdx.cjs`, the launcher that runs
 *   it through a V8 code cache (src/code-cache.ts). One script because the
 *   cache works per script; CommonJS because vm.Script runs scripts, and an ES
 *   module entry costs Node 20 more to start. Its commands stay lazy: esbuild
 *   wraps each dynamically imported module in a function run on first use,
 *   so `vhdx info` compiles and runs none of the writer, the log replay or
 *   the other commands (V8 only pre-parses them).
 * - `dist/index.cjs`: the small synchronous exports, and a runCli that
 *   imports dist/index.js, so the commands are not built a second time.
 *
 * The @vhdx packages are bundled from their TypeScript sources, found through
 * the "@vhdx/source" condition of their package.json exports (tools/check-packages
 * requires one in every package). Everything else stays external: the
 * dependencies in package.json (fs-native-extensions, a native addon, in particular).
 */
const fromSources = { conditions: ["@vhdx/source"] };

/** What the three builds share: the @vhdx packages bundled in, source maps, no cleaning between builds. */
const common = { clean: false, sourcemap: true, target: "es2022", noExternal: [/^@vhdx\//] };

// Less for V8 to parse at every start; names are kept, so --debug stack traces still say where.
const smaller = { minifyWhitespace: true, minifySyntax: true };

export default defineConfig([
  {
    entry: { index: "src/index.ts", vhdx: "src/module-bin.ts" },
    format: ["esm"],
    splitting: true,
    dts: { entry: { index: "src/index.ts" } },
    ...common,
    esbuildOptions(options) {
      Object.assign(options, fromSources);
    },
    ...smaller,
  },
  {
    entry: { vhdx: "src/launch.ts", "vhdx-program": "src/bin.ts" },
    format: ["cjs"],
    ...common,
    esbuildOptions(options) {
      Object.assign(options, fromSources);
      // import() becomes require(): a script run through vm.Script has no loader for import().
      options.supported = { ...options.supported, "dynamic-import": false };
      // node:crypto on first use instead of at every start (see the file).
      options.alias = { ...options.alias, uuid: "./src/internal/lazy-uuid.ts" };
    },
    ...smaller,
  },
  {
    entry: { index: "src/commonjs.ts" },
    format: ["cjs"],
    ...common,
    esbuildOptions(options) {
      Object.assign(options, fromSources);
      options.external = [...(options.external ?? []), "./index.js"];
    },
  },
]);
