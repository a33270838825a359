import { defineConfig } from "tsup";

// The spec-driven generator and the oracle runners live in tools/ (the
// repository's tests use them too) and are bundled in, so the published
// package depends on no private workspace package.
const bundled = ["@vhdx-tools/fixtures", "@vhdx-tools/oracles"];

export default defineConfig([
  {
    entry: { index: "src/index.ts" },
    format: ["esm", "cjs"],
    dts: true,
    clean: false,
    sourcemap: true,
    target: "es2022",
    noExternal: bundled,
    esbuildOptions(options, { format }) {
      // src/fuzz/package-paths.ts reads __filename in CJS and import.meta.url only in ESM.
      if (format === "cjs") options.logOverride = { "empty-import-meta": "silent" };
    },
  },
  {
    // The command and the fuzzer's worker process.
    entry: { cli: "src/cli.ts", "fuzz-worker": "src/fuzz/worker.ts" },
    format: ["esm"],
    splitting: true,
    sourcemap: true,
    target: "es2022",
    noExternal: bundled,
  },
]);
