// The Node side of the page's end-to-end tests: the built page (dist/) and any
// disk files served from the range server on 127.0.0.1, one Chromium per test
// file (tools/browser's harness), and a record of every request the page made.
import { createHash } from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { type RangeServer, launchChromium, startRangeServer } from "@vhdx-tools/browser";

type Browser = Awaited<ReturnType<typeof launchChromium>>;
export type Page = Awaited<ReturnType<Browser["newPage"]>>;

const DIST = fileURLToPath(new URL("../dist/", import.meta.url));

/** How the page may save: "picker-missing" hides showSaveFilePicker (downloads); "opfs-picker" stubs it with a file of the origin's private storage. */
export type SaveMode = "native" | "picker-missing" | "opfs-picker";

export interface PageSession {
  site: RangeServer;
  /** Every URL the pages and their workers asked for. */
  requests: string[];
  open(options?: { save?: SaveMode }): Promise<Page & { errors: string[] }>;
  close(): Promise<void>;
}

function distPages(): Record<string, string> {
  const pages: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else pages[`/${relative(DIST, path)}`] = readFileSync(path, "utf8");
    }
  };
  walk(DIST);
  return pages;
}

export async function startPageSession(files: Record<string, string | Uint8Array> = {}): Promise<PageSession> {
  const site = await startRangeServer({ pages: distPages(), files });
  const browser = await launchChromium().catch(async (error: unknown) => {
    await site.close();
    throw error;
  });
  const requests: string[] = [];
  return {
    site,
    requests,
    async open({ save = "native" } = {}) {
      const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 } });
      context.on("request", (request) => requests.push(request.url()));
      if (save === "picker-missing") {
        await context.addInitScript(() =>
          Object.defineProperty(window, "showSaveFilePicker", { value: undefined, configurable: true }),
        );
      } else if (save === "opfs-picker") {
        await context.addInitScript(() => {
          const picker = async ({ suggestedName }: { suggestedName: string }) =>
            (await navigator.storage.getDirectory()).getFileHandle(`saved-${suggestedName}`, { create: true });
          Object.defineProperty(window, "showSaveFilePicker", { value: picker, configurable: true });
        });
      }
      const page = await context.newPage();
      const errors: string[] = [];
      page.on("pageerror", (error) => errors.push(error.message));
      await page.goto(site.url("/index.html"), { waitUntil: "load" });
      return Object.assign(page, { errors });
    },
    async close() {
      await browser.close();
      await site.close();
    },
  };
}

/** The requests that went to neither the page's origin nor one of `allowed` (blob: and data: URLs are local). */
export function foreignRequests(session: PageSession, allowed: string[] = []): string[] {
  const origins = new Set([session.site.origin, ...allowed.map((url) => new URL(url).origin)]);
  return session.requests.filter((url) => !/^(blob|data):/.test(url) && !origins.has(new URL(url).origin));
}

/** The disk article the page shows for `name`, once its slow sections (check, allocation, partitions) are done. */
export async function diskShown(page: Page, name: string) {
  const disk = page.locator(`article.disk[aria-label="${name}"]`);
  for (const section of ["properties", "check", "allocation", "partitions"]) {
    await disk.locator(`[data-section="${section}"]:not([data-status="working"])`).waitFor({ timeout: 60_000 });
  }
  return disk;
}

export function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

export function sha256File(path: string): string {
  return sha256(readFileSync(path));
}
