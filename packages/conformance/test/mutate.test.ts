// The mutator: deterministic, structure-aware, and fixing checksums so field
// rewrites reach the rules behind them.
import { tempDir } from "@vhdx-tools/oracles";
import {
  decodeHeader,
  decodeMetadataTable,
  decodeParentLocator,
  decodeRegionTable,
  PARENT_LOCATOR_GUID,
  verifyHeaderChecksum,
  verifyLogEntryChecksum,
  verifyRegionTableChecksum,
} from "@vhdx/structs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyOne, mutate } from "../src/fuzz/mutate.js";
import { Prng } from "../src/random.js";
import { type SeedImage, buildSeeds } from "../src/fuzz/seeds.js";
import { type Structure, type StructureMap, mapStructures } from "../src/fuzz/structure-map.js";

const dir = tempDir("vhdx-mutate-test-");
let seeds: SeedImage[];
afterAll(() => dir.remove());
beforeAll(async () => {
  seeds = await buildSeeds(dir);
});

const seedNamed = (name: string) => {
  const seed = seeds.find((s) => s.name === name);
  if (seed === undefined) throw new Error(`no seed ${name}`);
  return seed;
};
const only = (map: StructureMap, keep: (s: Structure) => boolean): StructureMap => ({
  ...map,
  structures: map.structures.filter(keep),
});
const equalBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && Buffer.compare(a, b) === 0;

describe("structure map", () => {
  it("finds both headers and region tables, the metadata table and items, and the BAT of every seed", () => {
    expect(seeds.length).toBeGreaterThanOrEqual(7);
    for (const seed of seeds) {
      const map = mapStructures(seed.bytes);
      const kinds = map.structures.map((s) => s.kind);
      expect(
        kinds.filter((k) => k === "header"),
        seed.name,
      ).toHaveLength(2);
      expect(
        kinds.filter((k) => k === "region table"),
        seed.name,
      ).toHaveLength(2);
      expect(kinds, seed.name).toContain("metadata table");
      expect(kinds.filter((k) => k === "metadata item").length, seed.name).toBeGreaterThanOrEqual(5);
      expect(kinds, seed.name).toContain("BAT");
      expect(map.currentHeader, seed.name).not.toBe(0);
    }
  });

  it("finds the parent locator of the differencing seed and the log entries of the dirty one", () => {
    const child = mapStructures(seedNamed("fixture-differencing").bytes);
    expect(child.locator?.locator.entries.relative_path).toBe("parent.vhdx");
    expect(child.structures.find((s) => s.kind === "parent locator")?.fields.length).toBeGreaterThan(3);
    const dirty = mapStructures(seedNamed("ours-dirty-log").bytes);
    expect(dirty.structures.filter((s) => s.kind === "log entry").length).toBeGreaterThan(0);
    expect(dirty.logGuids.length).toBeGreaterThan(0);
    const wrapped = mapStructures(seedNamed("ours-dirty-log-wrapped").bytes);
    expect(wrapped.structures.filter((s) => s.kind === "log entry").length).toBeGreaterThan(100);
  });

  it("stays bounded on garbage and on an empty file", () => {
    expect(mapStructures(new Uint8Array(0)).structures.map((s) => s.kind)).toEqual(["file identifier"]);
    const garbage = new Prng(9).bytes(3 << 20);
    expect(() => mapStructures(garbage)).not.toThrow();
  });
});

describe("mutate", () => {
  it("is deterministic for a seed and leaves the seed image alone", () => {
    const seed = seedNamed("fixture-differencing");
    const copy = seed.bytes.slice();
    const map = mapStructures(seed.bytes);
    for (let index = 0; index < 40; index++) {
      const a = mutate(seed.bytes, map, Prng.forMutant(7, index));
      const b = mutate(seed.bytes, map, Prng.forMutant(7, index));
      expect(a.description).toBe(b.description);
      expect(equalBytes(a.bytes, b.bytes), a.description).toBe(true);
      expect(a.description.length).toBeGreaterThan(0);
    }
    expect(equalBytes(seed.bytes, copy)).toBe(true);
  });

  it("gives different mutants for different seeds and indexes", () => {
    const seed = seedNamed("ours-dynamic");
    const map = mapStructures(seed.bytes);
    const descriptions = new Set(
      Array.from({ length: 50 }, (_, i) => mutate(seed.bytes, map, Prng.forMutant(1, i)).description),
    );
    expect(descriptions.size).toBeGreaterThan(40);
    expect(mutate(seed.bytes, map, Prng.forMutant(1, 0)).description).not.toBe(
      mutate(seed.bytes, map, Prng.forMutant(2, 0)).description,
    );
  });

  it("changes every mutant but the rare no-op", () => {
    const seed = seeds.find((s) => s.name === "qemu-dynamic") ?? seedNamed("ours-dynamic");
    const map = mapStructures(seed.bytes);
    let unchanged = 0;
    for (let i = 0; i < 100; i++)
      if (equalBytes(mutate(seed.bytes, map, Prng.forMutant(3, i)).bytes, seed.bytes)) unchanged++;
    expect(unchanged).toBeLessThan(10);
  });
});

describe("field rewrites recompute checksums", () => {
  it("a header field rewrite decodes past the checksum with the new value", () => {
    const seed = seedNamed("ours-dynamic");
    const map = only(mapStructures(seed.bytes), (s) => s.name === "header 1");
    let changed = 0;
    for (let i = 0; i < 30; i++) {
      const bytes = seed.bytes.slice();
      const result = applyOne(bytes, map, Prng.forMutant(11, i), "field");
      expect(result.description).toMatch(/^header 1\..* \(checksum fixed\)$/);
      expect(verifyHeaderChecksum(result.bytes, 0x10000), result.description).toBe(true);
      if (!equalBytes(result.bytes.subarray(0x10000, 0x11000), seed.bytes.subarray(0x10000, 0x11000))) changed++;
      expect(equalBytes(result.bytes.subarray(0x20000), seed.bytes.subarray(0x20000))).toBe(true);
    }
    expect(changed).toBeGreaterThan(20);
  });

  it("a region table rewrite keeps a valid checksum in the copies it touches", () => {
    const seed = seedNamed("fixture-unknown-items");
    const map = only(mapStructures(seed.bytes), (s) => s.kind === "region table");
    let both = 0;
    for (let i = 0; i < 30; i++) {
      const result = applyOne(seed.bytes.slice(), map, Prng.forMutant(12, i), "field");
      expect(
        verifyRegionTableChecksum(result.bytes, 0x30000) && verifyRegionTableChecksum(result.bytes, 0x40000),
        result.description,
      ).toBe(true);
      if (result.description.endsWith("in both copies")) both++;
    }
    expect(both).toBeGreaterThan(3);
  });

  it("a log entry rewrite fixes the entry's checksum while its length still fits", () => {
    const seed = seedNamed("ours-dirty-log");
    const full = mapStructures(seed.bytes);
    const entry = full.structures.find((s) => s.kind === "log entry")!;
    const map = only(full, (s) => s === entry);
    let verified = 0;
    for (let i = 0; i < 40; i++) {
      const result = applyOne(seed.bytes.slice(), map, Prng.forMutant(13, i), "field");
      if (!result.description.includes("entryLength")) {
        expect(
          verifyLogEntryChecksum(result.bytes.subarray(entry.offset, full.log!.offset + full.log!.length)),
          result.description,
        ).toBe(true);
        verified++;
      }
    }
    expect(verified).toBeGreaterThan(20);
  });

  it("a seed's own checksums are right (the tests above can fail)", () => {
    const seed = seedNamed("ours-dynamic");
    const bytes = seed.bytes.slice();
    bytes[0x10000 + 72]! ^= 1;
    expect(verifyHeaderChecksum(bytes, 0x10000)).toBe(false);
  });
});

describe("other mutations", () => {
  it("truncates to a shorter file", () => {
    const seed = seedNamed("fixture-4k-states");
    const map = mapStructures(seed.bytes);
    for (let i = 0; i < 20; i++) {
      const result = applyOne(seed.bytes.slice(), map, Prng.forMutant(14, i), "truncate");
      expect(result.bytes.length).toBeLessThan(seed.bytes.length);
      expect(result.description).toContain(`truncate to 0x${result.bytes.length.toString(16)}`);
    }
  });

  it("inserts garbage, growing the file", () => {
    const seed = seedNamed("ours-dynamic");
    const result = applyOne(seed.bytes.slice(), mapStructures(seed.bytes), Prng.forMutant(15, 0), "insert garbage");
    expect(result.bytes.length).toBeGreaterThan(seed.bytes.length);
  });

  it("rewrites one BAT entry at a time", () => {
    const seed = seedNamed("fixture-4k-states");
    const map = mapStructures(seed.bytes);
    const bat = map.structures.find((s) => s.kind === "BAT")!;
    for (let i = 0; i < 20; i++) {
      const result = applyOne(seed.bytes.slice(), map, Prng.forMutant(16, i), "bat entry");
      expect(result.description).toMatch(/^BAT\.entries\[\d+\] = /);
      let differing = 0;
      for (let e = 0; e < bat.length; e += 8) {
        if (
          !equalBytes(
            result.bytes.subarray(bat.offset + e, bat.offset + e + 8),
            seed.bytes.subarray(bat.offset + e, bat.offset + e + 8),
          )
        )
          differing++;
      }
      expect(differing).toBeLessThanOrEqual(1);
      expect(equalBytes(result.bytes.subarray(0, bat.offset), seed.bytes.subarray(0, bat.offset))).toBe(true);
    }
  });

  it("rewrites the parent locator, updating the item's length, including paths out of the folder and cycles", () => {
    const seed = seedNamed("fixture-differencing");
    const map = mapStructures(seed.bytes);
    const seen = new Set<string>();
    for (let i = 0; i < 120; i++) {
      const result = applyOne(seed.bytes.slice(), map, Prng.forMutant(17, i), "locator");
      if (!result.description.startsWith("parent locator:")) continue;
      const table = decodeMetadataTable(result.bytes, map.metadata!.offset);
      const entry = table.entries.find((e) => e.itemId === PARENT_LOCATOR_GUID)!;
      const item = result.bytes.subarray(
        map.metadata!.offset + entry.offset,
        map.metadata!.offset + entry.offset + entry.length,
      );
      const entries = decodeParentLocator(item).entries;
      if (entries.relative_path?.includes("etc")) seen.add("outside");
      if (entries.relative_path === "mutant.vhdx" && entries.parent_linkage === `{${map.dataWriteGuid}}`)
        seen.add("cycle");
      if (entries.parent_linkage === undefined) seen.add("no linkage");
    }
    expect([...seen].sort()).toEqual(["cycle", "no linkage", "outside"]);
  });

  it("swaps header sequence numbers with both checksums fixed", () => {
    const seed = seedNamed("ours-dynamic");
    const map = mapStructures(seed.bytes);
    for (let i = 0; i < 20; i++) {
      const result = applyOne(seed.bytes.slice(), map, Prng.forMutant(18, i), "header");
      if (!result.description.startsWith("swap")) continue;
      expect(verifyHeaderChecksum(result.bytes, 0x10000) && verifyHeaderChecksum(result.bytes, 0x20000)).toBe(true);
      expect(decodeHeader(result.bytes, 0x10000).sequenceNumber).toBe(decodeHeader(seed.bytes, 0x20000).sequenceNumber);
      return;
    }
    throw new Error("no swap in 20 header mutations");
  });

  it("decodes the seeds' region tables (sanity of the fixtures)", () => {
    for (const seed of seeds)
      expect(decodeRegionTable(seed.bytes, 0x30000).entries.length, seed.name).toBeGreaterThanOrEqual(2);
  });
});
