import { defineConfig } from "vitest/config";
import { sharedTestConfig } from "../../vitest.shared.mjs";

// The built packages, resolved as a consumer resolves them: no "@vhdx/source" condition.
export default defineConfig(sharedTestConfig(import.meta.url, { fromSources: false }));
