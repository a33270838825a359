// FileSource.dataStretches: where a sparse file's data is, from SEEK_DATA and
// SEEK_HOLE through the package's addon (dist/native, made by its build), and
// the whole range when the addon is switched off. On Linux the addon must be
// there: a build that silently lost it would make every raw conversion read
// its holes again.
import { execFileSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from "node:fs";
import { ftruncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FileSource, type FileStretch, canSeekData } from "../src/node/index.js";

const MiB = 1 << 20;
const GiB = 1 << 30;
const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
let folder: string;
let sparse: string;
/** Where sparse holds data: 64 KiB at each of these offsets, in a 64 GiB file. */
const written = [0, 3 * GiB, 3 * GiB + 65536, 40 * GiB + 12345 * 4096, 64 * GiB - 65536];

beforeAll(() => {
  folder = mkdtempSync(join(tmpdir(), "vhdx-seek-"));
  sparse = join(folder, "sparse.raw");
  const fd = openSync(sparse, "w");
  ftruncateSync(fd, 64 * GiB);
  for (const offset of written) writeSync(fd, new Uint8Array(65536).fill(7), 0, 65536, offset);
  closeSync(fd);
});
afterAll(() => rmSync(folder, { recursive: true, force: true }));

async function stretchesOf(path: string, offset: number, length: number): Promise<FileStretch[]> {
  const source = await FileSource.open(path);
  try {
    return [...source.dataStretches(offset, length)];
  } finally {
    await source.close();
  }
}

const covers = (stretches: FileStretch[], offset: number, length: number) =>
  stretches.some((s) => s.offset <= offset && offset + length <= s.offset + s.length);

describe("FileSource.dataStretches", () => {
  it.runIf(process.platform === "linux")("has its addon on Linux (built by the package's build script)", () => {
    expect(canSeekData()).toBe(true);
  });

  it.runIf(canSeekData())("finds the data of a sparse file and skips its holes", async () => {
    const stretches = await stretchesOf(sparse, 0, 64 * GiB);
    for (const offset of written) expect(covers(stretches, offset, 65536), `data at ${offset}`).toBe(true);
    const total = stretches.reduce((sum, s) => sum + s.length, 0);
    // File systems allocate in their own units (4 KiB pages on tmpfs, extents on ext4): far less than the file.
    expect(total).toBeLessThan(64 * MiB);
    for (let i = 1; i < stretches.length; i++)
      expect(stretches[i]!.offset).toBeGreaterThan(stretches[i - 1]!.offset + stretches[i - 1]!.length - 1);
  });

  it.runIf(canSeekData())("cuts the stretches at the range asked for", async () => {
    const stretches = await stretchesOf(sparse, 3 * GiB + 4096, 65536);
    expect(stretches).toEqual([{ offset: 3 * GiB + 4096, length: 65536 }]);
    expect(await stretchesOf(sparse, GiB, GiB)).toEqual([]);
    expect(await stretchesOf(sparse, 64 * GiB, 4096)).toEqual([]);
    expect(await stretchesOf(sparse, 70 * GiB, 4096)).toEqual([]);
  });

  it("gives the whole range as one stretch with VHDX_SEEK_DATA=0", () => {
    const script = `
      import { FileSource, canSeekData } from ${JSON.stringify(join(packageDir, "dist", "node.js"))};
      const source = await FileSource.open(${JSON.stringify(sparse)});
      console.log(JSON.stringify({ can: canSeekData(), stretches: [...source.dataStretches(5, 64 * 2 ** 30 - 5)] }));
      await source.close();`;
    const output = execFileSync(process.execPath, ["--input-type=module", "-e", script], {
      env: { ...process.env, VHDX_SEEK_DATA: "0" },
      encoding: "utf8",
    });
    expect(JSON.parse(output)).toEqual({ can: false, stretches: [{ offset: 5, length: 64 * GiB - 5 }] });
  });

  it("refuses a closed source and a negative range", async () => {
    const source = await FileSource.open(sparse);
    expect(() => source.dataStretches(-1, 10)).toThrow();
    await source.close();
    expect(() => source.dataStretches(0, 10)).toThrow(/closed/);
  });
});

describe("FileSource.allocate", () => {
  it.runIf(process.platform === "linux")(
    "reserves space without writing it, and the range reads as zeros",
    async () => {
      const path = join(folder, "allocated.bin");
      const source = await FileSource.open(path, { create: true });
      expect(await source.allocate(MiB, 8 * MiB)).toBe(true);
      expect(await source.size()).toBe(9 * MiB);
      expect(statSync(path).blocks * 512).toBeGreaterThanOrEqual(8 * MiB);
      const bytes = new Uint8Array(8 * MiB).fill(1);
      await source.read(bytes, MiB);
      expect(bytes.every((byte) => byte === 0)).toBe(true);
      expect(await source.allocate(0, 0)).toBe(false);
      await source.close();
    },
  );

  it("refuses a read-only source", async () => {
    const source = await FileSource.open(sparse);
    await expect(source.allocate(0, 4096)).rejects.toThrow(/read-only|READ_ONLY/i);
    await source.close();
  });
});
