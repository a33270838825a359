import { defineConfig } from "vitest/config";
import { sharedTestConfig } from "../../vitest.shared.mjs";

export default defineConfig(({ mode }) =>
  sharedTestConfig(import.meta.url, {
    mode,
    // Left out of `pnpm test:unit` (see the root README, Contributing).
    slow: [
      "test/signals.test.ts", // Ctrl-C, SIGTERM and SIGKILL sent to running commands
      "test/locking.test.ts", // commands racing each other and qemu-io
      "test/formats.test.ts", // images of other formats made by qemu-img
      "test/chains.test.ts", // differencing chains across folders, checked by qemu-img
      "test/convert.test.ts", // conversions checked against qemu-img convert and compare
      "test/convert-sync.test.ts", // convert traced with strace
      "test/check.test.ts", // check and repair differentially against qemu-img check
      "test/check-clean.test.ts", // qemu-img check on every image kind
      "test/io-commands.test.ts", // the built command against qemu-img and qemu-io, and closed pipes
    ],
  }),
);
