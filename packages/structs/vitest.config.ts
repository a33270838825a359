import { defineConfig } from "vitest/config";
import { sharedTestConfig } from "../../vitest.shared.mjs";

export default defineConfig(({ mode }) => sharedTestConfig(import.meta.url, { mode }));
