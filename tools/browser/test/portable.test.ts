// @vhdx/crc32c and @vhdx/structs in a real headless Chromium, bundled from
// their dist: known CRC-32C answers with the WebAssembly kernel and, under a
// Content-Security-Policy without 'wasm-unsafe-eval', with the JS fallback;
// and the real Windows structure dumps decoded and re-encoded in the page.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { launchChromium } from "@vhdx-tools/browser";
import { oracle } from "@vhdx-tools/oracles";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CRC32C_VECTORS,
  STRUCTS_VECTORS,
  type BrowserSession,
  attemptInPage,
  startSession,
  succeeded,
} from "./helpers.js";
import { patternBytes } from "./page/pattern.js";
import { STRUCTURE_VECTORS, roundTripStructures } from "./page/structures.js";

const hasChromium = oracle("chromium");

/** The definition, one bit at a time: shares nothing with the package's tables or kernel. */
function referenceCrc32c(data: Uint8Array): string {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return ((crc ^ 0xffffffff) >>> 0).toString(16).padStart(8, "0");
}

// Lengths on both sides of the 64-byte switch to WebAssembly and of its 64 KiB input piece.
const PATTERN_LENGTHS = [1, 63, 64, 4096, 65536, 65537, 300_001];

const CSP_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>CSP</title><script type="module" src="/app.js"></script></head></html>
`;

describe.skipIf(!hasChromium)("@vhdx/crc32c and @vhdx/structs in Chromium", () => {
  let session: BrowserSession;

  beforeAll(async () => {
    const structsFiles = Object.fromEntries(
      STRUCTURE_VECTORS.map((name) => [`/vectors/structs/${name}`, join(STRUCTS_VECTORS, name)]),
    );
    session = await startSession({
      pages: { "/csp.html": CSP_PAGE },
      // script-src 'self' lets /app.js run but, lacking 'wasm-unsafe-eval', forbids compiling WebAssembly.
      headers: { "/csp.html": { "content-security-policy": "default-src 'self'; script-src 'self'" } },
      files: { "/vectors/crc32c/image_header.1": join(CRC32C_VECTORS, "image_header.1"), ...structsFiles },
    });
  });
  afterAll(async () => {
    await session?.close();
  });

  async function knownAnswers(path: string) {
    const page = await session.open(path);
    const answers = {
      check: succeeded(await attemptInPage(page, "crc32cOfText", "123456789")),
      // The real Windows 10 header with its checksum field (offset 4, 4 bytes) zeroed: its stored checksum.
      header: succeeded(await attemptInPage(page, "crc32cOfFile", "/vectors/crc32c/image_header.1", 4, 8)),
      patterns: [] as string[],
      wasmAllowed: succeeded(await attemptInPage(page, "canCompileWasm")),
      kernel: { compiled: 0, refused: 0 },
    };
    for (const length of PATTERN_LENGTHS) {
      answers.patterns.push(succeeded(await attemptInPage(page, "crc32cOfPattern", length, length)));
    }
    answers.kernel = succeeded(await attemptInPage(page, "kernelReport"));
    expect(page.errors).toEqual([]);
    await page.close();
    return answers;
  }

  const expectedPatterns = PATTERN_LENGTHS.map((length) => referenceCrc32c(patternBytes(length, length)));

  it("computes the known answers with the WebAssembly kernel", async () => {
    const answers = await knownAnswers("/index.html");
    expect(answers.check).toBe("e3069283");
    expect(answers.header).toBe("9f69b235");
    expect(answers.patterns).toEqual(expectedPatterns);
    expect(answers.wasmAllowed).toBe(true);
    // The kernel is compiled once, on the first input of 64 bytes or more, and never refused.
    expect(answers.kernel).toEqual({ compiled: 1, refused: 0 });
  });

  it("falls back to JavaScript under a CSP without 'wasm-unsafe-eval', with the same answers", async () => {
    const answers = await knownAnswers("/csp.html");
    expect(answers.wasmAllowed).toBe(false);
    expect(answers.check).toBe("e3069283");
    expect(answers.header).toBe("9f69b235");
    expect(answers.patterns).toEqual(expectedPatterns);
    // The package tried the kernel once, was refused, and never tried again.
    expect(answers.kernel).toEqual({ compiled: 0, refused: 1 });
  });

  it("decodes and re-encodes the real Windows structures as Node does", async () => {
    const page = await session.open();
    const inBrowser = succeeded(await attemptInPage(page, "structures", "/vectors/structs/"));
    const inNode = await roundTripStructures(STRUCTS_VECTORS, async (path) => new Uint8Array(readFileSync(path)));
    expect(inBrowser).toEqual(inNode);
    expect(inBrowser.map((report) => report.vector)).toEqual(STRUCTURE_VECTORS);
    for (const report of inBrowser) {
      expect(report.roundTrips, report.vector).toBe(true);
      if (report.checksumValid !== undefined) expect(report.checksumValid, report.vector).toBe(true);
    }
    // A few values from packages/structs/test/vectors/libvhdi/README.md, decoded independently.
    const decoded = Object.fromEntries(inBrowser.map((report) => [report.vector, JSON.parse(report.decoded)]));
    expect(decoded["file_identifier.1"].creator).toBe("Microsoft Windows 10.0.19041.0");
    expect(decoded["image_header.1"]).toMatchObject({
      signature: "head",
      checksum: 0x9f69b235,
      sequenceNumber: "6n",
      dataWriteGuid: "0ffbcd55-1320-498f-9c15-1a97335aafcd",
      logOffset: 1048576,
    });
    expect(decoded["region_table.1"]).toMatchObject({ signature: "regi", checksum: 0xc66b8cae, entryCount: 2 });
    expect(decoded["parent_locator_entry.1"]).toEqual({
      keyOffset: 80,
      valueOffset: 108,
      keyLength: 28,
      valueLength: 76,
    });
    expect(page.errors).toEqual([]);
    await page.close();
  });
});

describe("launchChromium", () => {
  it("says how to install Chromium when there is none at the path", async () => {
    await expect(launchChromium({ executablePath: "/nonexistent/chromium" })).rejects.toThrow(
      "no Chromium at /nonexistent/chromium: apt-get install chromium, or set CHROMIUM to its path",
    );
  });

  it("says the browser did not start when the program exits at once", async () => {
    await expect(launchChromium({ executablePath: "/bin/false" })).rejects.toThrow(
      /^Chromium at \/bin\/false did not start: /,
    );
  });
});
