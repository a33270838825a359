// The Node side of the browser tests: one Chromium and one test site per test
// file, calls into the page's probe (test/page/probe.ts), and the images the
// tests read, made by QEMU or by @vhdx-tools/fixtures, with the SHA-256 of
// what their virtual disk must read as.
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { STATE, buildVhdx } from "@vhdx-tools/fixtures";
import { type TempDir, pyvhdiRead, qemuConvertToRaw, qemuCreate, qemuIo, tempDir } from "@vhdx-tools/oracles";
import {
  type TestPage,
  type TestSite,
  type TestSiteOptions,
  bundleForBrowser,
  launchChromium,
  openPage,
  startTestSite,
} from "@vhdx-tools/browser";
import type { Browser } from "playwright-core";
import type { Attempt, FunctionName, Probe } from "./page/probe.js";

declare global {
  var probe: Probe;
}

const MiB = 1 << 20;

export const PROBE_ENTRY = fileURLToPath(new URL("./page/probe.ts", import.meta.url));
export const STRUCTS_VECTORS = fileURLToPath(
  new URL("../../../packages/structs/test/vectors/libvhdi/", import.meta.url),
);
export const CRC32C_VECTORS = fileURLToPath(new URL("../../../packages/crc32c/test/vectors/libvhdi/", import.meta.url));

export interface BrowserSession {
  browser: Browser;
  site: TestSite;
  /** A fresh page at `path` of the site (default the page with the file picker). */
  open(path?: string): Promise<TestPage>;
  close(): Promise<void>;
}

/** Bundles the probe, serves it with `options`, and starts Chromium; call close() in afterAll. */
export async function startSession(options: TestSiteOptions = {}): Promise<BrowserSession> {
  const code = await bundleForBrowser(PROBE_ENTRY);
  const site = await startTestSite({ ...options, scripts: { "/app.js": code, ...options.scripts } });
  const browser = await launchChromium().catch(async (error: unknown) => {
    await site.close();
    throw error;
  });
  return {
    browser,
    site,
    open: (path = "/index.html") => openPage(browser, site.url(path)),
    close: async () => {
      await browser.close();
      await site.close();
    },
  };
}

type Args<N extends FunctionName> = Parameters<Probe[N]>;
type Result<N extends FunctionName> = Awaited<ReturnType<Probe[N]>>;

type Call = (name: string, ...args: unknown[]) => Promise<unknown>;

/** Calls a probe function in the page; a failure comes back as { ok: false, code, message }. */
export function attemptInPage<N extends FunctionName>(page: TestPage, name: N, ...args: Args<N>) {
  const call = ({ n, a }: { n: string; a: unknown[] }) => (probe.attempt as Call)(n, ...a);
  return page.evaluate(call, { n: name, a: args }) as Promise<Attempt<Result<N>>>;
}

/** Calls a probe function in the page's module worker. */
export function attemptInWorker<N extends FunctionName>(page: TestPage, name: N, ...args: Args<N>) {
  const call = ({ n, a }: { n: string; a: unknown[] }) => (probe.inWorker as Call)(n, ...a);
  return page.evaluate(call, { n: name, a: args }) as Promise<Attempt<Result<N>>>;
}

/** The value of a successful attempt; a failure throws with the page's message. */
export function succeeded<T>(attempt: Attempt<T>): T {
  if (!attempt.ok) throw new Error(`in the browser: ${attempt.code ?? "Error"}: ${attempt.message}`);
  return attempt.value;
}

export const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
export const sha256File = (path: string) => sha256(readFileSync(path));

export interface TestImage {
  /** Files, the image first and then its parents. */
  paths: string[];
  /** SHA-256 of the whole virtual disk as the oracle reads it. */
  sha256: string;
  /** Which oracle gave sha256. */
  oracle: string;
}

/**
 * A fixed 8 MiB and a dynamic 40 MiB image made by qemu-img with qemu-io
 * writes (a partial block, a run over two blocks, a zero write, the last
 * sector), each with the SHA-256 of `qemu-img convert -O raw`.
 */
export function qemuImages(dir: TempDir): { fixed: TestImage; dynamic: TestImage } {
  const writes = [
    "write -P 0x11 0 64k",
    "write -P 0x22 1536k 1m",
    "write -P 0x33 5m 4096",
    "write -z 5m 512",
    "write -P 0x44 7m 8k",
  ];
  const make = (name: string, size: number, subformat: "fixed" | "dynamic", extra: string[]) => {
    const path = dir.file(`${name}.vhdx`);
    qemuCreate(path, { size, subformat, blockSize: MiB });
    qemuIo(path, [...writes, ...extra]);
    const raw = dir.file(`${name}.raw`);
    qemuConvertToRaw(path, raw);
    return { paths: [path], sha256: sha256File(raw), oracle: "qemu-img convert -O raw" };
  };
  return {
    fixed: make("fixed", 8 * MiB, "fixed", ["write -P 0x55 8388096 512"]),
    dynamic: make("dynamic", 40 * MiB, "dynamic", ["write -P 0x66 33m 3m", "write -P 0x77 41942528 512"]),
  };
}

/**
 * A dynamic base and a differencing child from @vhdx-tools/fixtures (QEMU 7.2
 * cannot open differencing VHDX). The expected SHA-256 is python3-libvhdi's
 * read of the chain, checked equal to the fixture's own model first. The
 * child has no ZERO blocks and every PARTIALLY_PRESENT block has its sector
 * bitmap, where libvhdi reads differencing disks wrongly (VHDX-NOTES.md).
 */
export function fixtureChain(dir: TempDir): TestImage {
  const common = { virtualSize: 8 * MiB, blockSize: MiB } as const;
  const base = buildVhdx({
    ...common,
    type: "dynamic",
    blocks: { 0: { state: STATE.FULLY_PRESENT }, 1: { state: STATE.FULLY_PRESENT }, 4: { state: STATE.FULLY_PRESENT } },
  });
  const child = buildVhdx(
    {
      ...common,
      type: "differencing",
      parent: { dataWriteGuid: base.dataWriteGuid, paths: { relative_path: "base.vhdx" } },
      blocks: {
        1: { state: STATE.FULLY_PRESENT },
        // Single sectors at the start, then runs of 32: every way a partial block splits a read,
        // in few enough runs that reading it over HTTP (a request per run) stays quick.
        4: {
          state: STATE.PARTIALLY_PRESENT,
          presentSectors: (sector) => (sector < 16 ? sector % 2 === 0 : sector % 96 < 32),
        },
        6: { state: STATE.FULLY_PRESENT },
      },
    },
    base,
  );
  const paths = [dir.file("child.vhdx"), dir.file("base.vhdx")];
  writeFileSync(paths[0]!, child.bytes);
  writeFileSync(paths[1]!, base.bytes);
  const libvhdi = sha256(pyvhdiRead(paths[0]!, [[0, child.virtualSize]], [paths[1]!]));
  const model = sha256(child.expected);
  if (libvhdi !== model) throw new Error(`pyvhdi reads the fixture chain as ${libvhdi}, its model says ${model}`);
  return { paths, sha256: libvhdi, oracle: "python3-libvhdi (equal to the fixture's model)" };
}

export { tempDir };
