import { defineConfig } from "vitest/config";
import { sharedTestConfig } from "../../vitest.shared.mjs";

// Every file starts a browser and most run an oracle, so every file is slow and
// `--mode unit` runs none (passWithNoTests keeps that a success there only). fromSources:
// false: the browser must get the built dist that users install.
export default defineConfig(({ mode }) =>
  sharedTestConfig(import.meta.url, { mode, slow: ["test/**"], fromSources: false, passWithNoTests: mode === "unit" }),
);
