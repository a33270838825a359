// Writers page the BAT as readers do (read/bat-access.ts, read/bat-pages.ts):
// an image opened for writing holds the pages it touches, whatever the disk's
// size. BatPages keeps held and changed pages through evictions; a writer's
// scattered writes over a BAT of 33 pages read back in the session (pages
// evicted and read again) and after reopening, and QEMU agrees; changes not
// yet flushed survive a switch to the whole table (image.bat()); power cuts
// over a multi-page BAT keep every flushed write; and a real process writing
// 4 KiB into a 64 TiB image (a 512 MiB BAT) stays far under 160 MiB of RSS.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { computeGeometry } from "@vhdx/bat";
import { PAYLOAD_BLOCK_FULLY_PRESENT } from "@vhdx/structs";
import { oracles, qemuCheck, qemuIo, tempDir } from "@vhdx-tools/oracles";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemorySource, createImage, openImage } from "../src/index.js";
import { createVhdx, openVhdx } from "../src/node/index.js";
import { BatPages } from "../src/read/bat-pages.js";
import { FaultInjectingSource, type PowerCutMode } from "../src/testing/index.js";

const MiB = 2 ** 20;
const GiB = 2 ** 30;
const TiB = 2 ** 40;
const TEST_DIR = dirname(fileURLToPath(import.meta.url));
const PACKAGE_DIR = dirname(TEST_DIR);
const CHILD = join(TEST_DIR, "write-once-child.mjs");
/** Today's peak for the 64 TiB write is about 60 MB; holding the whole BAT made it about 580 MB. */
const RSS_BOUND = 160 * MiB;

const dir = tempDir("vhdx-writer-memory-");
afterAll(() => dir.remove());

/** 4 KiB of `value` (never 0). */
function pattern(value: number): Uint8Array {
  return new Uint8Array(4096).fill(value);
}

describe("BatPages held and changed pages", () => {
  const geometry = computeGeometry({ virtualSize: 64 * GiB, blockSize: MiB, logicalSectorSize: 512, hasParent: false });
  const regionOffset = 3 * MiB;

  it("never evicts a held or changed page, and evicts a changed one once committed", async () => {
    const file = new Uint8Array(regionOffset + geometry.batByteLength);
    const pages = new BatPages(new MemorySource(file, { readOnly: true }), geometry, regionOffset, {
      pageBytes: 4096,
      cachedPages: 2,
    });
    const entry = 700; // page 1 of 512-entry pages
    const release = await pages.hold(entry, entry + 1);
    pages.setEntry(entry, PAYLOAD_BLOCK_FULLY_PRESENT, 42);
    release();
    for (let first = 2048; first < 40_000; first += 997) await pages.window(first, first + 10); // evicts the rest
    expect(pages.changedPages).toBe(1);
    expect(pages.residentPages).toBeLessThanOrEqual(3);
    const changed = await pages.window(entry, entry + 1);
    expect([changed.state(entry), changed.fileOffsetMB(entry)]).toEqual([PAYLOAD_BLOCK_FULLY_PRESENT, 42]);

    const held = await pages.hold(10_000, 10_001);
    for (let first = 20_000; first < 60_000; first += 997) await pages.window(first, first + 10);
    expect(pages.table(10_000).firstEntry).toBe(9728); // still there, no read needed
    held();

    pages.committed(); // (nothing wrote the file here: after eviction the page reads as the file has it)
    expect(pages.changedPages).toBe(0);
    for (let first = 2048; first < 40_000; first += 997) await pages.window(first, first + 10);
    expect((await pages.window(entry, entry + 1)).state(entry)).toBe(0);
  });

  it("refuses a lookup in a page nobody holds", async () => {
    const file = new Uint8Array(regionOffset + geometry.batByteLength);
    const pages = new BatPages(new MemorySource(file, { readOnly: true }), geometry, regionOffset, { pageBytes: 4096 });
    expect(() => pages.table(5000)).toThrow(/not in a held page/);
  });
});

describe("a writer on a 4 TiB disk of 1 MiB blocks (a BAT of 33 pages)", () => {
  const size = 4 * TiB;
  const blocks = size / MiB;
  /** 96 writes spread over every page of the BAT, in an order that jumps about. */
  const offsets = Array.from(
    { length: 96 },
    (_, k) => ((k * 29) % 96) * Math.floor(blocks / 96) * MiB + (k % 7) * 4096,
  );

  it("reads back writes made across pages that were evicted and read again, in the session and after reopening", async () => {
    const path = dir.file("four-tib.vhdx");
    await (await createVhdx(path, { size, blockSize: MiB })).close();
    const image = await openVhdx(path, { readOnly: false });
    try {
      for (const [k, offset] of offsets.entries()) {
        await image.write(offset, pattern(k + 1));
        if (k === 80) await image.flush();
      }
      // Over 16 changed pages before k = 80: the writer flushed by itself; then pages were evicted and are read again here.
      for (const [k, offset] of offsets.entries()) expect(await image.read(offset, 4096)).toEqual(pattern(k + 1));
      await image.discard(offsets[3]! - (offsets[3]! % MiB), MiB);
      await image.writeZeroes(offsets[5]! - (offsets[5]! % MiB), MiB);
    } finally {
      await image.close();
    }
    const reopened = await openVhdx(path);
    try {
      for (const [k, offset] of offsets.entries()) {
        const expected = k === 3 || k === 5 ? new Uint8Array(4096) : pattern(k + 1);
        expect(await reopened.read(offset, 4096), `write ${k} at ${offset}`).toEqual(expected);
      }
      const data = [];
      for await (const extent of reopened.extents()) if (extent.kind === "data") data.push(extent.start);
      expect(data.length).toBe(offsets.length - 2); // the discarded block is UNMAPPED, the zeroed one ZERO
    } finally {
      await reopened.close();
    }
    if (oracles("qemu-img", "qemu-io")) {
      expect(qemuCheck(path)).toMatch(/No errors were found/);
      for (const k of [0, 17, 95]) {
        const output = qemuIo(path, [`read -P ${k + 1} ${offsets[k]} 4096`], { readOnly: true });
        expect(output).toMatch(/read 4096\/4096/);
        expect(output).not.toMatch(/verification failed/i);
      }
    }
  }, 120_000);

  it("keeps changes not yet flushed when image.bat() switches to the whole table", async () => {
    const source = new MemorySource();
    await (await createImage(source, { size: TiB, blockSize: MiB })).close();
    const image = await openImage(source, { readOnly: false });
    const early = [5 * MiB, 300 * GiB, 900 * GiB];
    for (const [k, offset] of early.entries()) await image.write(offset, pattern(k + 1));
    const table = await image.bat();
    for (const offset of early) expect(table.payloadState(offset / MiB)).toBe(PAYLOAD_BLOCK_FULLY_PRESENT);
    await image.write(600 * GiB, pattern(9)); // goes into the whole table now
    expect(table.payloadState((600 * GiB) / MiB)).toBe(PAYLOAD_BLOCK_FULLY_PRESENT);
    await image.close();
    const reopened = await openImage(source);
    for (const [k, offset] of early.entries()) expect(await reopened.read(offset, 4096)).toEqual(pattern(k + 1));
    expect(await reopened.read(600 * GiB, 4096)).toEqual(pattern(9));
    await reopened.close();
  });
});

describe("power cuts while a writer changes a BAT of many pages", () => {
  const size = TiB; // 1 MiB blocks: a BAT of 9 pages
  const writes = [0, 200, 400, 600, 800, 1000].map((g, k) => ({ offset: g * GiB + k * 4096, value: k + 1 }));
  const flushAfter = 2; // writes 0..2 are flushed, 3..5 are not

  async function workload(source: FaultInjectingSource): Promise<number> {
    let done = 0;
    try {
      const image = await openImage(source, { readOnly: false });
      for (const [k, write] of writes.entries()) {
        await image.write(write.offset, pattern(write.value));
        if (k === flushAfter) await image.flush();
        done = k + 1;
      }
      await image.close();
    } catch (error) {
      if (!source.powerIsCut) throw error;
    }
    return done;
  }

  it("keeps every flushed write at every cut point, in every mode", async () => {
    const memory = new MemorySource();
    await (await createImage(memory, { size, blockSize: MiB })).close();
    const initial = memory.bytes().slice();
    const counter = new FaultInjectingSource(initial);
    expect(await workload(counter)).toBe(writes.length);
    const modes: PowerCutMode[] = ["drop", "keep-random", "tear"];
    for (let cut = 0; cut <= counter.operations; cut++) {
      await new Promise((resolve) => setImmediate(resolve));
      const source = new FaultInjectingSource(initial, { cutAfterOperations: cut, seed: cut + 1 });
      const done = await workload(source);
      for (const mode of modes) {
        const label = `cut after ${cut} of ${counter.operations} operations, ${mode}`;
        const image = await openImage(new MemorySource(await source.powerCut(mode)), { readOnly: false });
        for (const [k, write] of writes.entries()) {
          const bytes = await image.read(write.offset, 4096);
          const flushed = k <= flushAfter && done > flushAfter;
          if (flushed) expect(bytes, `${label}: write ${k}`).toEqual(pattern(write.value));
          else expect([0, write.value], `${label}: write ${k}`).toContain(bytes[0]);
        }
        await image.close();
      }
    }
  }, 240_000);
});

describe.runIf(oracles("qemu-img"))("a process writing 4 KiB into a 64 TiB dynamic image (a 512 MiB BAT)", () => {
  beforeAll(() => {
    // The child runs dist/: build it when it is missing.
    if (!existsSync(join(PACKAGE_DIR, "dist", "node.js")))
      execFileSync("npx", ["tsup"], { cwd: PACKAGE_DIR, stdio: "pipe", timeout: 180_000 });
  }, 200_000);

  it.each([
    ["at the start", 0],
    ["near the end, in the BAT's last page", 64 * TiB - MiB + 8192],
  ])(
    "stays under 160 MiB of RSS %s, and qemu-img check is clean",
    async (_where, offset) => {
      const path = dir.file(`sixty-four-tib-${offset}.vhdx`);
      await (await createVhdx(path, { size: 64 * TiB, blockSize: MiB })).close();
      expect(statSync(path).size).toBeGreaterThan(512 * MiB);
      expect(statSync(path).blocks * 512).toBeLessThan(64 * MiB); // sparse on disk

      const child = spawnSync(process.execPath, [CHILD, path, String(offset)], { cwd: PACKAGE_DIR, encoding: "utf8" });
      expect(child.status, child.stderr).toBe(0);
      const { maxRssBytes } = JSON.parse(child.stdout) as { maxRssBytes: number };
      expect(maxRssBytes).toBeLessThan(RSS_BOUND);

      expect(qemuCheck(path)).toMatch(/No errors were found/);
      const image = await openVhdx(path);
      try {
        expect(await image.read(offset, 4096)).toEqual(new Uint8Array(4096).fill(0x5a));
        expect(image.logGuid).toBe("00000000-0000-0000-0000-000000000000");
      } finally {
        await image.close();
      }
    },
    120_000,
  );
});
