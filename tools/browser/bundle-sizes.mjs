// Prints the size of each portable package's browser bundle, minified and
// gzipped, made by the same esbuild settings as the browser tests (the
// packages' dist; build them first). Every export is kept, so these are the
// most an application pays; one that imports less gets less.
//   node tools/browser/bundle-sizes.mjs
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { bundleForBrowser } from "./index.mjs";

const PACKAGES = ["@vhdx/image", "@vhdx/structs", "@vhdx/crc32c"];
const here = fileURLToPath(new URL(".", import.meta.url));
const kB = (bytes) => `${(bytes / 1000).toFixed(1)} kB`;

console.log("| package | minified | gzipped |\n|---|---|---|");
for (const name of PACKAGES) {
  const code = await bundleForBrowser({ contents: `export * from "${name}";`, resolveDir: here }, { minify: true });
  const bytes = Buffer.byteLength(code);
  console.log(`| ${name} | ${kB(bytes)} | ${kB(gzipSync(code, { level: 9 }).length)} |`);
}
