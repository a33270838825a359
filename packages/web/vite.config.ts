// Builds the page into dist/: one HTML file, its script and style, and the
// conversion worker, all served from the page's own origin.
import { defineConfig } from "vite";

export default defineConfig({
  base: "./",
  build: { outDir: "dist", emptyOutDir: true, target: "es2022", sourcemap: false },
  worker: { format: "es" },
  preview: { host: "127.0.0.1", port: Number(process.env.PORT ?? 5173), strictPort: true },
});
