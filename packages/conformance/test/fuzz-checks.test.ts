// The worker's judgement of one mutant, run in-process: seeds are accepted,
// damaged files refused with a VhdxError, and anything else is a problem.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "@vhdx-tools/oracles";
import { MemorySource, openImage } from "@vhdx/image";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkMutant } from "../src/fuzz/check-mutant.js";
import { type SeedImage, MUTANT_FILE_NAME, buildSeeds } from "../src/fuzz/seeds.js";

const dir = tempDir("vhdx-fuzz-checks-");
let seeds: SeedImage[];
afterAll(() => dir.remove());
beforeAll(async () => {
  seeds = await buildSeeds(dir);
});

let cases = 0;
/** Writes `bytes` (and the seed's parents) into a fresh folder; returns the mutant's path and the parents'. */
function place(bytes: Uint8Array, seed: SeedImage) {
  const folder = dir.file(`case-${cases++}`);
  const path = join(folder, MUTANT_FILE_NAME);
  mkdirSync(folder, { recursive: true });
  writeFileSync(path, bytes);
  const parents = seed.parents.map((parent) => {
    const parentPath = join(folder, parent.fileName);
    writeFileSync(parentPath, parent.bytes);
    return parentPath;
  });
  return { path, alsoUnchanged: parents };
}

describe("checkMutant", () => {
  it("accepts every seed with no problems", async () => {
    for (const seed of seeds) {
      const outcome = await checkMutant({ id: 1, ...place(seed.bytes, seed) });
      expect(outcome, seed.name).toEqual({ verdict: "accepted", problems: [] });
    }
  });

  it("refuses a truncated file with the library's error code, as no problem", async () => {
    const seed = seeds.find((s) => s.name === "ours-dynamic")!;
    const outcome = await checkMutant({ id: 2, ...place(seed.bytes.slice(0, 0x25000), seed) });
    expect(outcome.verdict).toBe("refused");
    expect(outcome.code).toMatch(/^[A-Z_]+$/);
    expect(outcome.problems).toEqual([]);
  });

  it("refuses a differencing child whose parent is missing", async () => {
    const seed = seeds.find((s) => s.name === "fixture-differencing")!;
    const outcome = await checkMutant({ id: 3, ...place(seed.bytes, { ...seed, parents: [] }) });
    expect(outcome).toMatchObject({ verdict: "refused", code: "PARENT_NOT_FOUND", problems: [] });
  });

  it("refuses a disk with a reserved block state when read, and cat --salvage reads the rest (status 3)", async () => {
    const seed = seeds.find((s) => s.name === "ours-dynamic")!;
    const image = await openImage(new MemorySource(seed.bytes.slice()));
    const bat = await image.bat();
    const block = [...Array(image.geometry.payloadBlockCount).keys()].find((b) => bat.payloadState(b) === 6)!;
    const entryAt = image.layout.bat.fileOffset + block * 8; // a small disk: entry index = block
    await image.close();
    const bytes = seed.bytes.slice();
    bytes[entryAt] = (bytes[entryAt]! & ~7) | 4; // the reserved state 4
    const outcome = await checkMutant({ id: 6, ...place(bytes, seed) });
    expect(outcome).toEqual({ verdict: "refused", code: "CORRUPT_BAT", problems: [] });
  });

  it("reports a TypeError as a problem, with where it came from", async () => {
    const seed = seeds.find((s) => s.name === "ours-dynamic")!;
    const outcome = await checkMutant({ id: 4, ...place(seed.bytes, seed), hook: "type-error" });
    expect(outcome.problems).toHaveLength(1);
    expect(outcome.problems[0]).toMatch(/^library: TypeError: .*\(at /);
  });

  it("reports a file changed during the run", async () => {
    const seed = seeds.find((s) => s.name === "ours-dynamic")!;
    const placed = place(seed.bytes, seed);
    const other = dir.file("changing.bin");
    writeFileSync(other, "before");
    const checking = checkMutant({ id: 5, ...placed, alsoUnchanged: [other] });
    writeFileSync(other, "after");
    const outcome = await checking;
    expect(outcome.problems.some((p) => p.includes("modified") && p.includes("changing.bin"))).toBe(true);
  });
});
