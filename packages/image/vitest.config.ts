import { defineConfig } from "vitest/config";
import { sharedTestConfig } from "../../vitest.shared.mjs";

export default defineConfig(({ mode }) =>
  sharedTestConfig(import.meta.url, {
    mode,
    // Left out of `pnpm test:unit` (see the root README, Contributing).
    slow: [
      "test/qemu-read.test.ts", // differential reads against qemu-io
      "test/write-interop.test.ts", // our writes read by QEMU and libvhdi, theirs by us
      "test/write-model.test.ts", // random writes on images QEMU made, checked by qemu-img
      "test/create.test.ts", // created images of every size checked by qemu-img and vhdiinfo
      "test/crash.test.ts", // power cuts at every write and flush
      "test/compact.test.ts", // power cuts at every step of a compaction
      "test/resize.test.ts", // power cuts at every step of a resize
      "test/no-flush.test.ts", // a writer that dies at every point
      "test/write-sigkill.test.ts", // SIGKILLed writer processes
      "test/locking.test.ts", // locks held by other processes and by qemu-io
      "test/extents.test.ts", // extents of images QEMU made, and of 1 and 8 TiB images
    ],
  }),
);
