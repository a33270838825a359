// A BAT too large to hold is read a page at a time by read-only images.
// BatPages on its own (small pages, so windows cross pages and the cache
// evicts) must agree with the whole table; and a QEMU image whose BAT is over
// LARGEST_WHOLE_BAT must read like QEMU reads it, refuse a misplaced block as
// the whole-table path does, and never load the whole table.
import { copyFileSync, openSync, closeSync, writeSync } from "node:fs";
import { BatTable, computeGeometry } from "@vhdx/bat";
import { type TempDir, oracles, qemuCreate, qemuIo, tempDir } from "@vhdx-tools/oracles";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LARGEST_WHOLE_BAT, MemorySource, VhdxError } from "../src/index.js";
import { openVhdx } from "../src/node/index.js";
import { BatPages } from "../src/read/bat-pages.js";
import { scanBlockPlacement } from "../src/read/block-integrity.js";

const MiB = 2 ** 20;
const GiB = 2 ** 30;
const TiB = 2 ** 40;

describe("BatPages", () => {
  // 64 GiB of 1 MiB blocks in a differencing disk: 65536 payload entries and 16 sector bitmap entries.
  const geometry = computeGeometry({ virtualSize: 64 * GiB, blockSize: MiB, logicalSectorSize: 512, hasParent: true });
  const regionOffset = 3 * MiB;
  const fileSize = regionOffset + geometry.batByteLength + 2048 * MiB;

  /** A file with a BAT at regionOffset: every entry random, some placed past the end or over one another. */
  function makeFile(seed: number): Uint8Array {
    const file = new Uint8Array(regionOffset + geometry.batByteLength);
    const view = new DataView(file.buffer);
    let state = seed;
    const next = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0);
    for (let index = 0; index < geometry.batEntryCount; index++) {
      const mb = next() % 2200; // some past the file's end, many reused: overlaps
      view.setUint32(regionOffset + index * 8, ((next() % 8) | ((mb % 4096) << 20)) >>> 0, true);
    }
    return file;
  }

  it("answers every window as the whole table does, across pages and after evictions", async () => {
    const file = makeFile(1);
    const whole = new BatTable(file.subarray(regionOffset), geometry, { regionFileOffset: regionOffset });
    const pages = new BatPages(new MemorySource(file, { readOnly: true }), geometry, regionOffset, {
      pageBytes: 4096,
      cachedPages: 3,
    });
    let seed = 7;
    const next = (limit: number) => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % limit;
    for (let n = 0; n < 300; n++) {
      const first = next(geometry.batEntryCount);
      const end = Math.min(geometry.batEntryCount, first + 1 + next(3000));
      const window = await pages.window(first, end);
      expect([window.firstEntry, window.endEntry]).toEqual([first, end]);
      for (let index = first; index < end; index += 1 + next(50)) {
        expect([window.state(index), window.fileOffsetMB(index)]).toEqual([
          whole.state(index),
          whole.fileOffsetMB(index),
        ]);
      }
    }
  });

  it("keeps windows it handed out intact while later reads reuse evicted pages", async () => {
    const file = makeFile(2);
    const whole = new BatTable(file.subarray(regionOffset), geometry, { regionFileOffset: regionOffset });
    const pages = new BatPages(new MemorySource(file, { readOnly: true }), geometry, regionOffset, {
      pageBytes: 4096,
      cachedPages: 2,
    });
    const held = await pages.window(0, 512);
    await Promise.all(Array.from({ length: 40 }, (_, k) => pages.window(1000 + k * 700, 1200 + k * 700)));
    for (let index = 0; index < 512; index++) expect(held.state(index)).toBe(whole.state(index));
  });

  it("finds the same misplaced blocks a page at a time as in one pass over the whole table", async () => {
    for (const seed of [3, 4]) {
      const file = makeFile(seed);
      const whole = new BatTable(file.subarray(regionOffset), geometry, { regionFileOffset: regionOffset });
      const structures = [{ offset: 0, length: regionOffset + geometry.batByteLength, name: "header section and BAT" }];
      const expected = scanBlockPlacement(whole, fileSize, structures);
      const pages = new BatPages(new MemorySource(file, { readOnly: true }), geometry, regionOffset, {
        pageBytes: 8192,
      });
      const paged = await pages.scanPlacement(fileSize, structures);
      expect(expected.size).toBeGreaterThan(1000);
      expect(new Map([...paged].sort((a, b) => a[0] - b[0]))).toEqual(
        new Map([...expected].sort((a, b) => a[0] - b[0])),
      );
    }
  });
});

describe.runIf(oracles("qemu-img", "qemu-io"))("a read-only image with a BAT over LARGEST_WHOLE_BAT", () => {
  let dir: TempDir;
  let path: string;
  // 8 TiB of 1 MiB blocks: a 64 MiB BAT.
  const size = 8 * TiB;
  const writes = [
    { offset: 0, length: 3 * MiB, pattern: 0x11 },
    { offset: 4 * TiB - MiB, length: 2 * MiB, pattern: 0x22 }, // across a BAT page and a chunk
    { offset: size - MiB, length: MiB, pattern: 0x33 },
  ];

  beforeAll(() => {
    dir = tempDir("vhdx-bat-pages-");
    path = dir.file("big.vhdx");
    qemuCreate(path, { size, subformat: "dynamic", blockSize: MiB });
    qemuIo(
      path,
      writes.map((w) => `write -P ${w.pattern} ${w.offset} ${w.length}`),
    );
  });
  afterAll(() => dir?.remove());

  it("reads QEMU's writes and zeros around them without loading the whole BAT", async () => {
    const image = await openVhdx(path);
    try {
      expect(image.geometry.batByteLength).toBeGreaterThan(LARGEST_WHOLE_BAT);
      for (const w of writes) {
        const around = await image.read(
          Math.max(w.offset - 4096, 0),
          w.length + 8192 - (w.offset === 0 ? 4096 : 0) - (w.offset + w.length === size ? 4096 : 0),
        );
        const start = w.offset === 0 ? 0 : 4096;
        expect(around.subarray(start, start + w.length).every((b) => b === w.pattern)).toBe(true);
        expect(around.subarray(0, start).every((b) => b === 0)).toBe(true);
        expect(around.subarray(start + w.length).every((b) => b === 0)).toBe(true);
      }
      const window = await image.batWindow(4 * TiB - MiB, 2 * MiB);
      expect(window.endEntry - window.firstEntry).toBeLessThan(10_000);
      expect(window.payloadState((4 * TiB) / MiB)).toBe(6);
      expect(image.geometry.batEntryCount).toBeGreaterThan(window.endEntry - window.firstEntry);
    } finally {
      await image.close();
    }
  });

  it("refuses a block placed over another, as the whole-table path does, and reads the rest", async () => {
    const broken = dir.file("overlap.vhdx");
    copyFileSync(path, broken);
    const image = await openVhdx(broken);
    const batOffset = image.layout.bat.fileOffset;
    const first = await image.batWindow(0, MiB);
    const entry = first.bytes.slice(0, 8);
    await image.close();
    // Block 2 (entry 2) now points where block 0 lies.
    const fd = openSync(broken, "r+");
    writeSync(fd, entry, 0, 8, batOffset + 2 * 8);
    closeSync(fd);
    const paged = await openVhdx(broken);
    try {
      await expect(paged.read(2 * MiB, 4096)).rejects.toSatisfy(
        (e) => VhdxError.isInstance(e) && e.code === "CORRUPT_BAT",
      );
      await expect(paged.read(0, 4096)).rejects.toSatisfy((e) => VhdxError.isInstance(e) && e.code === "CORRUPT_BAT");
      expect((await paged.read(size - MiB, 4096)).every((b) => b === 0x33)).toBe(true);
      expect([...(await paged.corruptBatEntries()).keys()].sort()).toEqual([0, 2]);
    } finally {
      await paged.close();
    }
    const writable = await openVhdx(broken, { readOnly: false });
    try {
      await expect(writable.read(2 * MiB, 4096)).rejects.toSatisfy(
        (e) => VhdxError.isInstance(e) && e.code === "CORRUPT_BAT",
      );
    } finally {
      await writable.close();
    }
  });
});
