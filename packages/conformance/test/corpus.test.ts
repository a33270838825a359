// The corpus builder's short profile: it builds, every feature the issue
// names is in it, and every image's expected contents come from an oracle or
// the spec-driven generator, never from our own reader.
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { type TempDir, oracles, run, tempDir } from "@vhdx-tools/oracles";
import { decodeHeader, verifyHeaderChecksum } from "@vhdx/structs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CorpusImage, buildCorpus, readCorpus } from "../src/corpus/index.js";

const NIL_GUID = "00000000-0000-0000-0000-000000000000";
const hasOracles = oracles("qemu-img", "qemu-io", "vhdiinfo", "pyvhdi");

const FEATURES = [
  "fixed",
  "dynamic",
  "differencing",
  "block-size-1MiB",
  "block-size-8MiB",
  "block-size-32MiB",
  "past-4GiB-chunk",
  "zero-writes",
  "discard",
  "unaligned-writes",
  "dirty-log",
  "partially-present",
  "4k-sectors",
  "every-block-state",
  "unmapped-legacy",
  "unknown-region",
  "unknown-metadata",
  "user-metadata",
  "no-sector-bitmap",
  "reopened-sessions",
  "partial-last-block",
  "replayed-by-us",
  "chain-of-3",
  "parents-in-other-folders",
];

describe.skipIf(!hasOracles)("the short corpus", () => {
  let dir: TempDir;
  let corpus: CorpusImage[];
  const lines: string[] = [];
  beforeAll(async () => {
    dir = tempDir("vhdx-corpus-");
    corpus = await buildCorpus(dir.path, { profile: "short", onProgress: (line) => lines.push(line) });
  }, 180_000);
  afterAll(() => dir?.remove(), 120_000);

  it("builds images from QEMU, from our writer and from the generator, with progress lines and a manifest", async () => {
    expect(new Set(corpus.map((image) => image.origin))).toEqual(new Set(["qemu", "writer", "generator"]));
    expect(new Set(corpus.map((image) => image.name)).size).toBe(corpus.length);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((line) => line.startsWith("corpus "))).toBe(true);
    expect(await readCorpus(dir.path)).toEqual(corpus);
  });

  it("has every feature", () => {
    const present = new Set(corpus.flatMap((image) => image.features));
    expect(FEATURES.filter((feature) => !present.has(feature))).toEqual([]);
  });

  it("keeps one image past the 4 GiB chunk boundary, everything else small", () => {
    const large = corpus.filter((image) => image.virtualSize > 1024 * 1024 * 1024);
    expect(large.map((image) => image.name)).toEqual(["qemu-dynamic-past-4GiB"]);
    expect(large[0]!.features).toContain("past-4GiB-chunk");
    const raw = statSync(large[0]!.expected.path, { bigint: true });
    expect(Number(raw.blocks) * 512).toBeLessThan(256 * 1024 * 1024); // qemu-img convert's raw output is sparse
  });

  it("takes each image's expected contents from an oracle or the generator", () => {
    for (const image of corpus) {
      const { oracle } = image.expected;
      if (image.origin === "qemu") expect(oracle, image.name).toBe("qemu-img convert");
      if (image.origin === "generator") expect(oracle, image.name).toBe("generator");
      if (image.origin === "writer") {
        const qemuCanOpen = image.logicalSectorSize === 512 && image.diskType !== "differencing";
        expect(oracle, image.name).toBe(qemuCanOpen ? "qemu-img convert" : "pyvhdi");
        expect(image.writerModel, image.name).toBeDefined();
      }
      for (const reference of image.alsoExpected)
        expect(["qemu-img convert", "pyvhdi"], image.name).toContain(reference.oracle);
    }
  });

  it("never reads an image through our reader to make the corpus", () => {
    // Only the modules that make images with our writer (and replay a log with it) use @vhdx/image.
    const writers = ["writer-images.ts", "dirty-log.ts"];
    const sources = join(import.meta.dirname, "../src/corpus");
    for (const file of readdirSync(sources)) {
      const text = readFileSync(join(sources, file), "utf8");
      if (!writers.includes(file)) expect(text, file).not.toMatch(/from "@vhdx\/image/);
      expect(text, file).not.toMatch(/image\.read(Into)?\(/);
    }
  });

  it("writes every file: images, parents, raw files the size of the disk holding data", () => {
    for (const image of corpus) {
      for (const path of [image.path, ...image.parents]) expect(existsSync(path), path).toBe(true);
      for (const raw of [
        image.expected.path,
        ...image.alsoExpected.map((r) => r.path),
        ...(image.writerModel ? [image.writerModel] : []),
      ]) {
        expect(statSync(raw).size, raw).toBe(image.virtualSize);
      }
      if (image.virtualSize <= 512 * 1024 * 1024) {
        expect(
          readFileSync(image.expected.path).some((byte) => byte !== 0),
          `${image.name} reads as all zeros`,
        ).toBe(true);
      }
      expect(image.focus.length, image.name).toBeGreaterThan(0);
    }
  });

  it("gives chains their parents, nearest first, and names the oracles that cannot open them", () => {
    const chains = corpus.filter((image) => image.diskType === "differencing");
    expect(chains.length).toBeGreaterThan(0);
    for (const image of chains) {
      expect(image.parents.length, image.name).toBeGreaterThan(0);
      const parent = corpus.find((other) => other.path === image.parents[0]);
      expect(parent?.parents, image.name).toEqual(image.parents.slice(1));
      expect(image.skip["qemu-img convert"], image.name).toMatch(/QEMU/);
    }
    expect(corpus.find((image) => image.name === "gen-chain-top")?.parents).toHaveLength(2);
  });

  it("leaves the dirty-log image with a log to replay: LogGuid set, QEMU refuses a read-only open", () => {
    const image = corpus.find((entry) => entry.features.includes("dirty-log"))!;
    const file = readFileSync(image.path);
    const headers = [0x10000, 0x20000]
      .filter((at) => verifyHeaderChecksum(file, at))
      .map((at) => decodeHeader(file, at));
    const current = headers.sort((a, b) => (a.sequenceNumber < b.sequenceNumber ? 1 : -1))[0]!;
    expect(current.logGuid).not.toBe(NIL_GUID);
    expect(() => run("qemu-img", ["info", "-f", "vhdx", image.path])).toThrow(/needs to be replayed/);
    expect(image.skip.pyvhdi).toMatch(/does not replay the log/);
  });
});
