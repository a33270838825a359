import { defineConfig } from "vitest/config";
import { sharedTestConfig } from "../../vitest.shared.mjs";

// Every file drives the built page in Chromium and most run QEMU: all are slow.
// The page is built once, before the files run (test/build-page.ts). `--mode unit`
// runs none, which passWithNoTests keeps a success there only.
export default defineConfig(({ mode }) =>
  sharedTestConfig(import.meta.url, {
    mode,
    slow: ["test/**"],
    globalSetup: ["test/build-page.ts"],
    passWithNoTests: mode === "unit",
  }),
);
