import { defineConfig } from "vitest/config";
import { sharedTestConfig } from "../../vitest.shared.mjs";

export default defineConfig(({ mode }) =>
  sharedTestConfig(import.meta.url, {
    mode,
    // Left out of `pnpm test:unit` (see the root README, Contributing).
    slow: [
      "test/crash.test.ts", // the power-cut crash suite
      "test/fuzz.test.ts", // fuzzing runs in worker processes
      "test/differential.test.ts", // runs against qemu-img, qemu-io and libvhdi
      "test/corpus.test.ts", // builds the corpus with qemu-img
      "test/report.test.ts", // the whole report, oracles included
    ],
  }),
);
