// The harness of the browser tests: Debian's Chromium started through
// playwright-core (never a downloaded browser), code bundled for the browser
// by esbuild from the packages' built dist (what users get), and a test site
// on 127.0.0.1 served by the range server, with a second server as another
// origin. Used by tools/browser's tests and packages/web's end-to-end tests.
import { accessSync, constants } from "node:fs";
import { startRangeServer } from "@vhdx-tools/range-server";
import { build } from "esbuild";
import { chromium } from "playwright-core";

export { startRangeServer };

/** Flags for a quiet, self-contained headless run: no sandbox (containers), no GPU, no calls home. */
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

/** The Chromium to run: $CHROMIUM, else Debian's /usr/bin/chromium. */
export function chromiumExecutable() {
  return process.env.CHROMIUM || "/usr/bin/chromium";
}

/**
 * Starts a headless Chromium with a fresh profile (playwright makes one per launch).
 * @param {{ executablePath?: string }} [options]
 */
export async function launchChromium(options = {}) {
  const executablePath = options.executablePath ?? chromiumExecutable();
  try {
    accessSync(executablePath, constants.X_OK);
  } catch {
    throw new Error(`no Chromium at ${executablePath}: apt-get install chromium, or set CHROMIUM to its path`);
  }
  try {
    return await chromium.launch({ executablePath, args: CHROMIUM_ARGS, headless: true });
  } catch (error) {
    const reason = String(error instanceof Error ? error.message : error).split("\n")[0];
    throw new Error(`Chromium at ${executablePath} did not start: ${reason}`, { cause: error });
  }
}

// A module under packages/*/src in a bundle means the TypeScript sources were
// bundled (the "@vhdx/source" condition) instead of the dist users install.
const SOURCE_INPUT = /(^|\/)packages\/[^/]+\/src\//;

/**
 * Bundles `entry` and everything it imports into one ES module for the
 * browser. `entry` is a file (.ts or .js), or code with the folder its
 * imports resolve from. Packages resolve through their "browser"/"import"
 * conditions, so the @vhdx packages come from their built dist; a Node
 * built-in anywhere in the graph fails the build.
 * @param {string | { contents: string, resolveDir: string }} entry
 * @param {{ minify?: boolean }} [options]
 * @returns {Promise<string>} the bundle's code
 */
export async function bundleForBrowser(entry, options = {}) {
  const result = await build({
    ...(typeof entry === "string" ? { entryPoints: [entry] } : { stdin: { ...entry, loader: "ts" } }),
    bundle: true,
    platform: "browser",
    format: "esm",
    target: "es2022",
    minify: options.minify ?? false,
    write: false,
    metafile: true,
    logLevel: "silent",
  });
  const sources = Object.keys(result.metafile.inputs).filter((input) => SOURCE_INPUT.test(input));
  if (sources.length > 0) {
    const name = typeof entry === "string" ? entry : "the given code";
    throw new Error(`the bundle of ${name} took TypeScript sources instead of dist: ${sources.join(", ")}`);
  }
  return result.outputFiles[0].text;
}

/** A page that loads /app.js as a module and offers a file picker (#files). */
export const DEFAULT_PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>vhdx browser test</title><script type="module" src="/app.js"></script></head>
<body><label>Images <input type="file" id="files" multiple></label></body>
</html>
`;

/**
 * @typedef {object} TestSiteOptions
 * @property {Record<string, string>} [scripts] URL path to code, e.g. { "/app.js": bundle }.
 * @property {Record<string, string>} [pages] URL path to HTML; "/index.html" is DEFAULT_PAGE unless given.
 * @property {Record<string, string | Uint8Array>} [files] URL path to a file path or bytes, served with ranges.
 * @property {Record<string, Record<string, string>>} [headers] URL path to extra response headers (a CSP...).
 * @property {Record<string, number>} [statuses] URL path to a forced status.
 * @property {{ cors: "off" | "full" | "no-expose", files?: Record<string, string | Uint8Array>, statuses?: Record<string, number> }} [crossOrigin]
 *   A second server, another origin (another port), for files fetched across origins.
 */

/**
 * Serves a test site from the range server on 127.0.0.1: pages, scripts and
 * image files on one origin, and optionally files on a second origin.
 * `site.requests` and `site.other.requests` record what each server saw.
 * @param {TestSiteOptions} [options]
 */
export async function startTestSite(options = {}) {
  const pages = { "/index.html": DEFAULT_PAGE, ...options.pages, ...options.scripts };
  const main = await startRangeServer({
    pages,
    files: options.files ?? {},
    headers: options.headers ?? {},
    statuses: options.statuses ?? {},
  });
  const other = options.crossOrigin
    ? await startRangeServer({
        cors: options.crossOrigin.cors,
        files: options.crossOrigin.files ?? {},
        statuses: options.crossOrigin.statuses ?? {},
      })
    : undefined;
  const closeMain = main.close;
  return Object.assign(main, {
    other,
    /** The URL of the default page. */
    pageUrl: main.url("/index.html"),
    close: async () => {
      await Promise.all([closeMain(), other?.close()]);
    },
  });
}

/**
 * Opens `url` in a new page of `browser` and waits for its load event (module
 * scripts have run by then). The page's uncaught errors are collected in
 * `errors`, to assert on (console messages are not: a deliberate 404 logs one).
 * @param {import("playwright-core").Browser} browser
 * @param {string} url
 */
export async function openPage(browser, url) {
  const page = await browser.newPage();
  /** @type {string[]} */
  const errors = [];
  page.on("pageerror", (error) => errors.push(error.message));
  await page.goto(url, { waitUntil: "load" });
  return Object.assign(page, { errors });
}
