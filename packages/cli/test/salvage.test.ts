// cat --salvage and convert --salvage on an image whose BAT entries are
// damaged in each way a read refuses (past the end of the file, a reserved
// state, over the metadata region, in the header section, two blocks over
// each other): without --salvage both stop with CORRUPT_BAT (status 2) and
// make nothing; with it the good blocks' bytes come out, the bad ones as
// zeros, each listed on stderr (and in convert's --json), with status 3.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { tempDir } from "@vhdx-tools/oracles";
import { createVhdx, openVhdx } from "@vhdx/image/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, expectClean, vhdx, vhdxProcess } from "./harness.js";

const MiB = 1 << 20;
const dir = tempDir("vhdx-salvage-");
afterAll(() => dir.remove());

const damaged = dir.file("damaged.vhdx");
const sound = dir.file("sound.vhdx");
/** The disk's bytes before the damage, and with the damaged blocks as zeros. */
let original: Uint8Array;
let expected: Uint8Array;
/** Blocks whose entries are damaged, and the two that overlap. */
const DAMAGED = [1, 2, 3, 4, 5, 6];

/** 16 MiB, 1 MiB blocks, blocks 0-9 written with a pattern of their own; returns its bytes. */
async function writeSample(path: string): Promise<Uint8Array> {
  const image = await createVhdx(path, { size: 16 * MiB, blockSize: MiB });
  const bytes = new Uint8Array(16 * MiB);
  for (let block = 0; block < 10; block++) {
    for (let i = 0; i < MiB; i += 512)
      bytes.fill((block * 37 + i / 512) & 0xff || 1, block * MiB + i, block * MiB + i + 512);
  }
  await image.write(0, bytes.subarray(0, 10 * MiB));
  await image.close();
  return bytes;
}

/** Rewrites BAT entry `index` of the file at `path` (payload block `index` while below the chunk ratio). */
function setBatEntry(file: Uint8Array, batOffset: number, index: number, state: number, offsetMB: number): void {
  const view = new DataView(file.buffer, file.byteOffset);
  view.setUint32(batOffset + index * 8, (((offsetMB % 4096) << 20) | state) >>> 0, true);
  view.setUint32(batOffset + index * 8 + 4, Math.floor(offsetMB / 4096), true);
}

beforeAll(async () => {
  original = await writeSample(damaged);
  await writeSample(sound);
  const image = await openVhdx(damaged);
  const bat = image.layout.bat.fileOffset;
  const metadata = image.layout.metadata.fileOffset;
  const block5 = await firstFileOffset(image, 5 * MiB);
  await image.close();
  const file = new Uint8Array(readFileSync(damaged));
  setBatEntry(file, bat, 1, 6, 1 << 20); // 1 TiB: past the end of the file
  setBatEntry(file, bat, 2, 4, 0); // the reserved state
  setBatEntry(file, bat, 3, 6, metadata / MiB); // over the metadata region
  setBatEntry(file, bat, 4, 6, 0); // in the header section
  setBatEntry(file, bat, 6, 6, block5 / MiB); // over block 5: both are refused
  writeFileSync(damaged, file);
  expected = original.slice();
  for (const block of DAMAGED) expected.fill(0, block * MiB, (block + 1) * MiB);
});

async function firstFileOffset(image: Awaited<ReturnType<typeof openVhdx>>, offset: number): Promise<number> {
  for await (const extent of image.extents(offset, MiB)) if (extent.fileOffset !== undefined) return extent.fileOffset;
  throw new Error(`no data at ${offset}`);
}

/** The lines of stderr that list salvaged ranges. */
function salvagedLines(stderr: string, command: string): string[] {
  return stderr.split("\n").filter((line) => line.startsWith(`vhdx ${command}: salvaged `));
}

function expectListed(stderr: string, command: string): void {
  const lines = salvagedLines(stderr, command);
  expect(lines).toHaveLength(DAMAGED.length);
  DAMAGED.forEach((block, i) => {
    const start = `0x${(block * MiB).toString(16)}-0x${((block + 1) * MiB).toString(16)}`;
    expect(lines[i]).toContain(`salvaged ${start} (1 MiB) as zeros: payload block ${block} of ${damaged}`);
    expect(lines[i]).toMatch(/BAT entry \d+ @0x[0-9a-f]+, .*\): CORRUPT_BAT: /);
  });
  expect(lines[0]).toMatch(/file offset 0x10000000000\): .*past the end of the file/);
  expect(lines[1]).toContain("RESERVED (4), no file offset");
  expect(lines[3]).toMatch(/header section/);
  expect(stderr).toContain(
    `vhdx ${command}: incomplete: 6 ranges of the disk (6 MiB) read as zeros (--salvage); exit status 3`,
  );
}

describe("vhdx cat --salvage", () => {
  it("without --salvage stops at the first damaged block (status 2)", async () => {
    const outcome = await vhdx(["cat", damaged], dir.path);
    expect(outcome.status).toBe(2);
    expect(outcome.stderr).toMatch(/^vhdx: CORRUPT_BAT: /);
    const out = dir.file("refused.raw");
    expect((await vhdx(["cat", "-o", out, damaged], dir.path)).status).toBe(2);
    expect(existsSync(out)).toBe(false);
  });

  it("writes the good blocks' bytes and zeros for the damaged ones, lists each, and exits with status 3", async () => {
    const outcome = await vhdx(["cat", "--salvage", damaged], dir.path);
    expect(outcome.status).toBe(3);
    expect(outcome.stdoutBytes.equals(expected)).toBe(true);
    expectListed(outcome.stderr, "cat");
  });

  it("-o makes the file, complete but for the damaged blocks", async () => {
    const out = dir.file("salvaged.raw");
    const outcome = await vhdx(["cat", "--salvage", "-q", "-o", out, damaged], dir.path);
    expect(outcome.status).toBe(3);
    expect(readFileSync(out).equals(expected)).toBe(true);
    expectListed(outcome.stderr, "cat");
  });

  it("changes nothing for a sound image", async () => {
    const outcome = await vhdx(["cat", "--salvage", sound], dir.path);
    expectClean(outcome);
    expect(outcome.stdoutBytes.equals(original)).toBe(true);
  });

  it("exits with status 3 from the built command too", () => {
    ensureBuilt();
    const outcome = vhdxProcess(["cat", "--salvage", damaged]);
    expect(outcome.status).toBe(3);
    expect(outcome.stdoutBytes.equals(expected)).toBe(true);
    expect(salvagedLines(outcome.stderr, "cat")).toHaveLength(DAMAGED.length);
    expect(vhdxProcess(["cat", "--help"]).stdout).toMatch(/--salvage[\s\S]*status 3/);
  });
});

describe("vhdx convert --salvage", () => {
  it("without --salvage stops (status 2) and makes no DST", async () => {
    const out = dir.file("refused.vhdx");
    const outcome = await vhdx(["convert", damaged, out], dir.path);
    expect(outcome.status).toBe(2);
    expect(outcome.stderr).toMatch(/^vhdx: CORRUPT_BAT: /);
    expect(existsSync(out)).toBe(false);
  });

  it("makes a VHDX of what can be read, with a salvaged list in --json, and exits with status 3", async () => {
    const out = dir.file("salvaged.vhdx");
    const outcome = await vhdx(["convert", "--salvage", "--json", damaged, out], dir.path);
    expect(outcome.status).toBe(3);
    expectListed(outcome.stderr, "convert");
    const report = JSON.parse(outcome.stdout) as { salvaged: Array<Record<string, unknown>> };
    expect(report.salvaged.map((range) => range.block)).toEqual(DAMAGED);
    expect(report.salvaged[0]).toMatchObject({
      file: damaged,
      batIndex: 1,
      virtualOffset: MiB,
      length: MiB,
      fileOffset: 2 ** 40,
      state: "FULLY_PRESENT",
      code: "CORRUPT_BAT",
    });
    const image = await openVhdx(out);
    expect(Buffer.from(await image.read(0, image.virtualSize)).equals(expected)).toBe(true);
    await image.close();
  });

  it("-O raw makes the raw disk of what can be read", async () => {
    const out = dir.file("salvaged-convert.raw");
    const outcome = await vhdx(["convert", "--salvage", "-O", "raw", damaged, out], dir.path);
    expect(outcome.status).toBe(3);
    expect(readFileSync(out).equals(expected)).toBe(true);
  });

  it("lists nothing for a sound image: an empty salvaged list, status 0; without --salvage, no list", async () => {
    const withSalvage = await vhdx(["convert", "--salvage", "--json", sound, dir.file("sound-copy.vhdx")], dir.path);
    expectClean(withSalvage);
    expect(JSON.parse(withSalvage.stdout).salvaged).toEqual([]);
    const without = await vhdx(["convert", "--json", sound, dir.file("sound-copy-2.vhdx")], dir.path);
    expectClean(without);
    expect(JSON.parse(without.stdout)).not.toHaveProperty("salvaged");
  });
});
