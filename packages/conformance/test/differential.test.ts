// The differential runners on the short corpus: our reader agrees with every
// oracle on every image, our writer's images pass qemu-img check and read in
// QEMU (or libvhdi) as we wrote them, 7-Zip tests and reads every image it
// does not refuse for a known reason; and the comparator does report a
// difference when one byte differs.
import { copyFileSync, openSync, readFileSync, readSync, writeSync, closeSync } from "node:fs";
import { basename } from "node:path";
import { type TempDir, oracles, sevenZipTest, tempDir } from "@vhdx-tools/oracles";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CorpusImage, buildCorpus } from "../src/corpus/index.js";
import { ORACLE_LIMITS } from "../src/corpus/corpus-image.js";
import { compareViews, runDifferential } from "../src/differential/index.js";
import { openVhdx } from "@vhdx/image/node";
import type { Comparison } from "../src/results.js";

const hasOracles = oracles("qemu-img", "qemu-io", "vhdiinfo", "pyvhdi", "7zz");
const BYTE_ORACLES = ["qemu-img convert", "pyvhdi", "generator"];

describe.skipIf(!hasOracles)("the differential runners on the short corpus", () => {
  let dir: TempDir;
  let corpus: CorpusImage[];
  let comparisons: Comparison[];
  beforeAll(async () => {
    dir = tempDir("vhdx-differential-");
    corpus = await buildCorpus(dir.path, { profile: "short" });
    comparisons = await runDifferential(corpus);
  }, 180_000);
  afterAll(() => dir?.remove(), 120_000);

  const of = (image: CorpusImage) => comparisons.filter((c) => c.image === image.name);
  const flipByte = (path: string, at: number) => {
    const fd = openSync(path, "r+");
    const byte = new Uint8Array(1);
    readSync(fd, byte, 0, 1, at);
    byte[0] = byte[0]! ^ 0x5a;
    writeSync(fd, byte, 0, 1, at);
    closeSync(fd);
  };

  it("agrees with every oracle on every image", () => {
    const found = comparisons.flatMap((c) => c.mismatches.map((m) => `${c.oracle} on ${c.image}: ${m}`));
    expect(found).toEqual([]);
  });

  it("compares the whole disk of every image against its expected contents", () => {
    for (const image of corpus) {
      const primary = of(image).find((c) => c.oracle === image.expected.oracle && c.skipped === undefined);
      expect(primary?.bytesCompared, image.name).toBe(image.virtualSize);
      const bytes = of(image)
        .filter((c) => BYTE_ORACLES.includes(c.oracle))
        .reduce((sum, c) => sum + c.bytesCompared, 0);
      expect(bytes, image.name).toBeGreaterThan(0);
    }
  });

  it("asks libvhdi and vhdiinfo about every image, skipping only with a documented reason", () => {
    const reasons: string[] = Object.values(ORACLE_LIMITS);
    for (const image of corpus) {
      const vhdiinfo = of(image).find((c) => c.oracle === "vhdiinfo");
      expect(vhdiinfo?.bytesCompared, image.name).toBeGreaterThanOrEqual(image.diskType === "differencing" ? 6 : 4);
      const libvhdi = of(image).filter((c) => c.oracle === "pyvhdi");
      expect(libvhdi, image.name).toHaveLength(1);
      expect(libvhdi[0]!.skipped === undefined ? libvhdi[0]!.bytesCompared : 1, image.name).toBeGreaterThan(0);
    }
    for (const c of comparisons.filter((c) => c.skipped !== undefined))
      expect(reasons, `${c.oracle} on ${c.image}`).toContain(c.skipped);
    const skippedPyvhdi = comparisons
      .filter((c) => c.oracle === "pyvhdi" && c.skipped !== undefined)
      .map((c) => c.image);
    expect(skippedPyvhdi.sort()).toEqual([
      "gen-diff-no-bitmap-child",
      "gen-diff-states-child",
      "gen-diff-states-no-legacy-child",
      "qemu-dirty-log",
    ]);
  });

  it("asks 7-Zip to test and read every image, skipping only the ones it refuses for a known reason", () => {
    const refusals = [
      ORACLE_LIMITS.sevenZipOddSectors,
      ORACLE_LIMITS.sevenZipLegacyUnmapped,
      ORACLE_LIMITS.sevenZipNoReplay,
    ];
    for (const image of corpus) {
      const test = of(image).filter((c) => c.oracle === "7zz t");
      const read = of(image).filter((c) => c.oracle === "7zz x");
      expect([test.length, read.length], image.name).toEqual([1, 1]);
      expect(test[0]!.skipped, image.name).toBe(read[0]!.skipped);
      if (read[0]!.skipped !== undefined) expect(refusals, image.name).toContain(read[0]!.skipped);
      else if (image.virtualSize <= 1024 ** 3) expect(read[0]!.bytesCompared, image.name).toBe(image.virtualSize);
      else expect(read[0]!.bytesCompared, image.name).toBeGreaterThan(0);
    }
    const refused = comparisons.filter((c) => c.oracle === "7zz x" && c.skipped !== undefined).map((c) => c.image);
    expect(refused.sort()).toEqual([
      "gen-block-states",
      "gen-diff-states-child",
      "qemu-dirty-log",
      "qemu-dynamic-1MiB",
      "qemu-fixed-8MiB-preallocated",
      "writer-dynamic-2MiB",
      "writer-dynamic-4k-sectors",
      "writer-dynamic-bat-pages",
    ]);
  });

  it("finds 7-Zip still refusing what the known differences say it refuses", () => {
    const expected: Record<string, RegExp> = {
      [ORACLE_LIMITS.sevenZipOddSectors]: /Cannot open the file as \[VHDX\] archive/,
      [ORACLE_LIMITS.sevenZipLegacyUnmapped]: /Cannot open the file as \[VHDX\] archive/,
      [ORACLE_LIMITS.sevenZipNoReplay]: /non-empty LOG was not replayed/,
    };
    for (const image of corpus) {
      const reason = image.skip["7zz t"];
      if (reason === undefined) continue;
      const result = sevenZipTest(image.path);
      expect(result.ok, image.name).toBe(false);
      expect(result.problems.join("\n"), image.name).toMatch(expected[reason]!);
    }
  });

  it("has 7-Zip read chains of three in three folders, 4 KiB sectors and every block state but 5", () => {
    const read = (name: string) => comparisons.find((c) => c.oracle === "7zz x" && c.image === name);
    for (const name of [
      "writer-deep-chain-top",
      "writer-deep-chain-4k-top",
      "gen-chain-4k-top",
      "gen-block-states-4k-no-legacy",
      "gen-diff-states-no-legacy-child",
    ]) {
      const image = corpus.find((i) => i.name === name)!;
      expect(read(name)?.bytesCompared, name).toBe(image.virtualSize);
    }
    for (const name of ["writer-deep-chain-top", "writer-deep-chain-4k-top"]) {
      const image = corpus.find((i) => i.name === name)!;
      expect(image.features, name).toEqual(expect.arrayContaining(["chain-of-3", "parents-in-other-folders"]));
    }
    expect(corpus.find((i) => i.name === "writer-deep-chain-4k-top")!.features).toContain("4k-sectors");
  });

  it("reports 7-Zip refusing a chain whose parent's DataWriteGuid is not the child's linkage", async () => {
    const child = corpus.find((i) => i.name === "writer-chain-child")!;
    const parentCopy = dir.file(basename(child.parents[0]!)); // the name the child's locator gives
    const childCopy = dir.file("relinked-child.vhdx");
    copyFileSync(child.parents[0]!, parentCopy);
    copyFileSync(child.path, childCopy);
    // A write through our writer gives the parent copy a new DataWriteGuid.
    const parent = await openVhdx(parentCopy, { readOnly: false });
    await parent.write(0, new Uint8Array(512).fill(1));
    await parent.close();
    const results = await runDifferential([{ ...child, path: childCopy, parents: [parentCopy] }]);
    const test = results.find((c) => c.oracle === "7zz t")!;
    expect(test.mismatches.length).toBeGreaterThan(0);
    expect(test.mismatches.join("\n")).toMatch(/error/i);
    expect(results.find((c) => c.oracle === "7zz x")!.mismatches.join("\n")).toMatch(/7zz x -so.*exit status 2/);
  });

  it("reports 7-Zip's output differing from the expected bytes", async () => {
    const image = corpus.find((i) => i.name === "gen-chain-top")!;
    const copy = dir.file("flipped-generator.raw");
    copyFileSync(image.expected.path, copy);
    const at = readFileSync(copy).findIndex((byte) => byte !== 0);
    flipByte(copy, at);
    const results = await runDifferential([{ ...image, expected: { ...image.expected, path: copy } }]);
    const read = results.find((c) => c.oracle === "7zz x")!;
    expect(read.mismatches).toHaveLength(1);
    expect(read.mismatches[0]).toMatch(new RegExp(`^virtual offset ${at} .*generator 0x[0-9a-f]{2}, 7zz x 0x`));
    expect(results.find((c) => c.oracle === "7zz t")!.mismatches).toEqual([]);
  });

  it("checks our writer's images with qemu-img check and QEMU's (or libvhdi's) reads against what we wrote", () => {
    for (const image of corpus.filter((i) => i.origin === "writer")) {
      const check = of(image).find((c) => c.oracle === "qemu-img check")!;
      const qemuCanOpen = image.logicalSectorSize === 512 && image.diskType !== "differencing";
      expect(check.skipped === undefined, image.name).toBe(qemuCanOpen);
      const writes = of(image).find((c) => c.oracle === `${image.expected.oracle} (our writes)`);
      expect(writes?.bytesCompared, image.name).toBe(image.virtualSize);
    }
  });

  it("reports a mismatch when one byte of the expected contents differs", async () => {
    const image = corpus.find((i) => i.name === "qemu-dynamic-1MiB")!;
    const [start] = image.focus[0]!;
    const raw = readFileSync(image.expected.path);
    const at = raw.findIndex((byte, i) => i >= start && byte !== 0);
    const copy = dir.file("flipped-expected.raw");
    copyFileSync(image.expected.path, copy);
    flipByte(copy, at);
    const [result] = await runDifferential([{ ...image, expected: { ...image.expected, path: copy } }]);
    expect(result!.oracle).toBe("qemu-img convert");
    expect(result!.mismatches).toHaveLength(1);
    expect(result!.mismatches[0]).toContain(`virtual offset ${at} `);
    expect(result!.mismatches[0]).toContain("1 bytes differ");
  });

  it("reports a mismatch when one byte of an image's data differs", async () => {
    const image = corpus.find((i) => i.name === "gen-block-states")!;
    const copy = dir.file("flipped-data.vhdx");
    copyFileSync(image.path, copy);
    // Block 0 is FULLY_PRESENT: find its bytes in the file, then damage one.
    const block0 = readFileSync(image.expected.path).subarray(0, 4096);
    const fileOffset = readFileSync(copy).indexOf(block0);
    expect(fileOffset).toBeGreaterThan(0);
    flipByte(copy, fileOffset + 1000);
    const results = await runDifferential([{ ...image, path: copy }]);
    const generator = results.find((c) => c.oracle === "generator")!;
    expect(generator.mismatches).toHaveLength(1);
    expect(generator.mismatches[0]).toMatch(
      /^virtual offset 1000 \(0x3e8\): our reader 0x[0-9a-f]{2}, generator 0x[0-9a-f]{2}; 1 bytes differ/,
    );
    // libvhdi reads the damaged file as we do: the difference is in the data, not in a reader.
    expect(results.find((c) => c.oracle === "pyvhdi")!.mismatches).toEqual([]);
  });

  it("reports our writer's model disagreeing with QEMU's read", async () => {
    const image = corpus.find((i) => i.name === "writer-dynamic-2MiB")!;
    const copy = dir.file("flipped-model.raw");
    copyFileSync(image.writerModel!, copy);
    flipByte(copy, 12345);
    const results = await runDifferential([{ ...image, writerModel: copy }]);
    const writes = results.find((c) => c.oracle === "qemu-img convert (our writes)")!;
    expect(writes.mismatches).toHaveLength(1);
    expect(writes.mismatches[0]).toContain("virtual offset 12345 ");
  });
});

describe("compareViews", () => {
  const view = (bytes: Uint8Array) => async (target: Uint8Array, offset: number) =>
    target.set(bytes.subarray(offset, offset + target.length));

  it("counts the bytes it compared and finds nothing when the views agree", async () => {
    const bytes = new Uint8Array(10_000).map((_, i) => i % 251);
    const result = await compareViews(
      [[0, 10_000]],
      view(bytes),
      view(bytes.slice()),
      { ours: "a", theirs: "b" },
      { window: 999 },
    );
    expect(result).toEqual({ bytesCompared: 10_000, mismatches: [] });
  });

  it("describes the first differing byte of each window and caps the list", async () => {
    const ours = new Uint8Array(1000);
    const theirs = new Uint8Array(1000);
    for (let i = 5; i < 1000; i += 100) theirs[i] = 7;
    const result = await compareViews(
      [[0, 1000]],
      view(ours),
      view(theirs),
      { ours: "a", theirs: "b" },
      { window: 100, maxMismatches: 3 },
    );
    expect(result.bytesCompared).toBe(1000);
    expect(result.mismatches).toEqual([
      "virtual offset 5 (0x5): a 0x00, b 0x07; 1 bytes differ in [0, 100)",
      "virtual offset 105 (0x69): a 0x00, b 0x07; 1 bytes differ in [100, 200)",
      "virtual offset 205 (0xcd): a 0x00, b 0x07; 1 bytes differ in [200, 300)",
      "... and 7 more differing bytes in 7 more windows",
    ]);
  });

  it("sees bytes a reader leaves unwritten", async () => {
    const lazy = async () => {};
    const result = await compareViews([[0, 64]], lazy, view(new Uint8Array(64)), { ours: "a", theirs: "b" });
    expect(result.mismatches).toHaveLength(1);
  });
});
