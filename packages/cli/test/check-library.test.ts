// `vhdx check --json` and @vhdx/image's checkImage on the same bytes, the
// library's given as a MemorySource and as a BlobSource (the portable path a
// browser takes): the same findings, counts and layout, for sound images and
// for the same images patched to break rules.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BlobSource, MemorySource, type RandomAccessSource, checkImage } from "@vhdx/image";
import { createVhdx } from "@vhdx/image/node";
import { BAT_REGION_GUID, HEADER_2_OFFSET, REGION_TABLE_1_OFFSET, decodeRegionTable } from "@vhdx/structs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { oracle, vhdx } from "./harness.js";

const MiB = 1 << 20;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "vhdx-check-library-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function ownImage(name: string, options: Parameters<typeof createVhdx>[1], writes: number[]): Promise<string> {
  const path = join(dir, `${name}.vhdx`);
  const image = await createVhdx(path, options);
  for (const offset of writes) await image.write(offset, new Uint8Array(64 * 1024).fill(0x5a));
  await image.close();
  return path;
}

function qemuImage(name: string): string {
  const path = join(dir, `${name}.vhdx`);
  spawnSync("qemu-img", ["create", "-q", "-f", "vhdx", "-o", "subformat=dynamic,block_size=1M", path, "64M"]);
  spawnSync("qemu-io", ["-f", "vhdx", "-c", "write -P 0x11 1M 1M", "-c", "write -P 0x22 9M 64k", path]);
  return path;
}

/** The path's bytes with some of them changed. */
function patched(path: string, name: string, patch: (bytes: Uint8Array, view: DataView, bat: number) => void): string {
  const bytes = new Uint8Array(readFileSync(path));
  const bat = decodeRegionTable(bytes, REGION_TABLE_1_OFFSET).entries.find(
    (e) => e.guid === BAT_REGION_GUID,
  )!.fileOffset;
  patch(bytes, new DataView(bytes.buffer), bat);
  const out = join(dir, `${name}.vhdx`);
  writeFileSync(out, bytes);
  return out;
}

/** What `vhdx check --json` prints, without what only the command adds. */
async function commandReport(path: string): Promise<Record<string, unknown>> {
  const outcome = await vhdx(["check", "--json", path]);
  expect(outcome.stderr).toBe("");
  const { repaired, ...report } = JSON.parse(outcome.stdout) as Record<string, unknown>;
  expect(repaired).toEqual([]);
  return report;
}

/** checkImage's report as JSON would show it: findings without their severity. */
async function libraryReport(
  source: RandomAccessSource,
  parents: RandomAccessSource[],
): Promise<Record<string, unknown>> {
  const report = await checkImage(source, { parents });
  const strip = (findings: typeof report.errors) => findings.map(({ severity: _, ...finding }) => finding);
  return JSON.parse(JSON.stringify({ ...report, errors: strip(report.errors), warnings: strip(report.warnings) }));
}

/** A source named like the file, so messages that name it read the same. */
function sources(path: string): Array<[string, () => RandomAccessSource]> {
  const bytes = new Uint8Array(readFileSync(path));
  return [
    ["MemorySource", () => new MemorySource(bytes.slice(), { name: path, readOnly: true })],
    ["BlobSource", () => new BlobSource(new Blob([bytes]), path)],
  ];
}

async function expectSameReports(path: string, parentPath?: string): Promise<void> {
  const expected = await commandReport(path);
  for (const [kind, open] of sources(path)) {
    const parents =
      parentPath === undefined
        ? []
        : [new MemorySource(new Uint8Array(readFileSync(parentPath)), { name: parentPath, readOnly: true })];
    expect(await libraryReport(open(), parents), `${kind} of ${path}`).toEqual(expected);
  }
}

describe("checkImage finds what vhdx check --json finds", () => {
  it("on sound images of this library: dynamic, fixed, differencing (its parent passed as a source)", async () => {
    const dynamic = await ownImage("dynamic", { size: 48 * MiB, blockSize: 2 * MiB, logicalSectorSize: 4096 }, [
      3 * MiB,
      30 * MiB,
    ]);
    const fixed = await ownImage("fixed", { type: "fixed", size: 10 * MiB + 4096 }, []);
    const child = await ownImage("child", { type: "differencing", parent: dynamic, blockSize: MiB }, [
      2 * MiB,
      5 * MiB + 4096,
    ]);
    await expectSameReports(dynamic);
    await expectSameReports(fixed);
    await expectSameReports(child, dynamic);
    expect((await commandReport(child)).parent).toBe(dynamic);
  });

  it("on images patched to break rules", async () => {
    const base = await ownImage("base", { size: 64 * MiB, blockSize: MiB }, [MiB, 5 * MiB, 9 * MiB]);
    const images = [
      patched(base, "header", (bytes) => (bytes[HEADER_2_OFFSET + 100]! ^= 0xff)),
      patched(base, "region", (bytes) => (bytes[REGION_TABLE_1_OFFSET + 40]! ^= 0xff)),
      patched(base, "bat", (_, view, bat) => {
        view.setUint32(bat + 8, 6 | (500 << 20), true); // past the end of the file
        view.setUint32(bat + 9 * 8, view.getUint32(bat + 5 * 8, true), true); // over block 5
        view.setUint32(bat + 3 * 8, 4, true); // the reserved state
        view.setUint32(bat + 7 * 8, 2 | (0x10 << 3), true); // reserved bits
      }),
      patched(base, "leak", (_, view, bat) => view.setUint32(bat + 5 * 8, 0, true)),
      patched(base, "short", () => undefined),
    ];
    writeFileSync(images[4]!, readFileSync(images[4]!).subarray(0, 3 * MiB + 12345));
    for (const path of images) {
      const { errorCount, warningCount, leakedBytes } = (await commandReport(path)) as {
        errorCount: number;
        warningCount: number;
        leakedBytes: number | null;
      };
      expect(errorCount + warningCount + (leakedBytes ?? 0), path).toBeGreaterThan(0);
      await expectSameReports(path);
    }
  });

  it.skipIf(!oracle("qemu-img") || !oracle("qemu-io"))("on an image of QEMU", async () => {
    await expectSameReports(qemuImage("qemu"));
  });
});
