// Types of index.mjs, the browser test harness, for TypeScript tests.
import type { Browser, Page } from "playwright-core";

export declare const CHROMIUM_ARGS: readonly string[];

/** $CHROMIUM, else /usr/bin/chromium. */
export declare function chromiumExecutable(): string;

/** A headless Chromium with a fresh profile; throws a clear Error when it is missing or does not start. */
export declare function launchChromium(options?: { executablePath?: string }): Promise<Browser>;

/** One ES module for the browser from a file or from code, the @vhdx packages taken from their built dist. */
export declare function bundleForBrowser(
  entry: string | { contents: string; resolveDir: string },
  options?: { minify?: boolean },
): Promise<string>;

/** A page that loads /app.js as a module and has a file picker, `<input type="file" id="files" multiple>`. */
export declare const DEFAULT_PAGE: string;

import type { Body, Cors, RangeServer, RangeServerOptions } from "@vhdx-tools/range-server";

export type { RangeServer, RangeServerOptions, RecordedRequest } from "@vhdx-tools/range-server";

/** @vhdx-tools/range-server's server, re-exported with types: one more origin when a test needs it. */
export declare function startRangeServer(options?: RangeServerOptions): Promise<RangeServer>;

export interface TestSiteOptions {
  scripts?: Record<string, string>;
  pages?: Record<string, string>;
  files?: Record<string, Body>;
  headers?: Record<string, Record<string, string>>;
  statuses?: Record<string, number>;
  crossOrigin?: { cors: Cors; files?: Record<string, Body>; statuses?: Record<string, number> };
}

export interface TestSite extends RangeServer {
  /** The second origin, when `crossOrigin` was given. */
  other: RangeServer | undefined;
  /** The URL of /index.html. */
  pageUrl: string;
  /** Closes both servers. */
  close(): Promise<void>;
}

export declare function startTestSite(options?: TestSiteOptions): Promise<TestSite>;

export type TestPage = Page & { errors: string[] };

/** A new page at `url`, loaded; its uncaught errors collect in `errors`. */
export declare function openPage(browser: Browser, url: string): Promise<TestPage>;
