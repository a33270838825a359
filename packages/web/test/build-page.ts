// vitest's global setup: builds the page into dist/ once, with Vite's API,
// so every test file drives the page as `pnpm web` would serve it.
import { fileURLToPath } from "node:url";
import { build } from "vite";

export default async function buildPage(): Promise<void> {
  const root = fileURLToPath(new URL("..", import.meta.url));
  await build({ root, configFile: `${root}/vite.config.ts`, logLevel: "warn" });
}
