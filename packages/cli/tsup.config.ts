import { defineConfig } from "tsup";

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
  },
]);
