import { defineConfig } from "vitest/config";
import { sharedTestConfig } from "../../vitest.shared.mjs";

export default defineConfig(({ mode }) =>
  sharedTestConfig(import.meta.url, {
    mode,
    // Left out of `pnpm test:unit` (see the root README, Contributing).
    slow: [
      "test/qemu.test.ts", // logs written by qemu-io, and ours checked by qemu-img
    ],
  }),
);
