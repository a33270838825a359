// vhdx measure against the real thing: for raw files, dynamic and fixed VHDX
// sources and a differencing chain, "required" must equal the size of the file
// `vhdx convert` makes with the same options (and bound it with
// --no-zero-scan), "fully allocated" the size of a fixed convert, and --size
// the size of what `vhdx create` makes. qemu-img measure answers -O raw only
// (QEMU's vhdx driver has no measure), where the two must agree.
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createVhdx } from "@vhdx/image/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, expectClean, oracle, run, vhdx, vhdxProcess } from "./harness.js";

const MiB = 1 << 20;
let dir: string;
let count = 0;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "vhdx-cli-measure-"));
  ensureBuilt();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function measured(args: string[]) {
  const outcome = await vhdx(["measure", "--json", ...args]);
  expectClean(outcome);
  return JSON.parse(outcome.stdout) as { required: number; fullyAllocated: number; allocatedBlocks: number };
}

/** The size of the file `vhdx convert` makes of `source` with `options`. */
async function convertedSize(source: string, options: string[] = []): Promise<number> {
  const destination = join(dir, `out-${count++}.vhdx`);
  expectClean(await vhdx(["convert", ...options, source, destination]));
  return statSync(destination).size;
}

/** A sparse raw file of `size` bytes with data at `pieces` ([offset, length, byte]); a byte of 0 writes zeros. */
function rawFile(name: string, size: number, pieces: Array<[number, number, number]>): string {
  const path = join(dir, name);
  writeFileSync(path, new Uint8Array(0));
  run("truncate", ["-s", String(size), path]);
  for (const [offset, length, value] of pieces) {
    run("dd", [`of=${path}`, "bs=4096", `seek=${offset / 4096}`, "conv=notrunc", "status=none"], {
      input: new Uint8Array(length).fill(value),
    });
  }
  return path;
}

describe("vhdx measure", () => {
  it("a raw file: required is what convert writes, zero blocks left out; --no-zero-scan bounds it", async () => {
    // Data at 0, twice in 2-3 MiB and at 40.5 MiB; a written stretch of zeros over 10-12 MiB.
    const raw = rawFile("disk.raw", 100 * MiB, [
      [0, 4096, 1],
      [2 * MiB, 8192, 2],
      [3 * MiB - 4096, 4096, 3],
      [10 * MiB, 2 * MiB, 0],
      [40 * MiB + 512 * 1024, 4096, 4],
    ]);
    for (const blockSize of ["1M", "2M", "32M"]) {
      const answer = await measured(["--block-size", blockSize, raw]);
      expect(answer.required).toBe(await convertedSize(raw, ["--block-size", blockSize]));
      expect(answer.fullyAllocated).toBe(await convertedSize(raw, ["--block-size", blockSize, "-t", "fixed"]));
      const fast = await measured(["--no-zero-scan", "--block-size", blockSize, raw]);
      expect(fast.required).toBeGreaterThanOrEqual(answer.required);
      expect(fast.fullyAllocated).toBe(answer.fullyAllocated);
    }
    expect((await measured(["--block-size", "1M", raw])).allocatedBlocks).toBe(3); // blocks 0, 2 and 40
  });

  it("a dynamic VHDX, a differencing chain and 4 KiB sectors: required equals convert's output", async () => {
    const base = join(dir, "base.vhdx");
    const parent = await createVhdx(base, { size: 64 * MiB, blockSize: 2 * MiB });
    await parent.write(0, new Uint8Array(3 * MiB).fill(5));
    await parent.write(20 * MiB, new Uint8Array(2 * MiB)); // allocated, all zeros
    await parent.close();
    const child = join(dir, "child.vhdx");
    const image = await createVhdx(child, { type: "differencing", parent: base });
    await image.write(40 * MiB + 512, new Uint8Array(512).fill(6));
    await image.close();
    const sector4k = join(dir, "4k.vhdx");
    const four = await createVhdx(sector4k, { size: 32 * MiB, blockSize: MiB, logicalSectorSize: 4096 });
    await four.write(7 * MiB, new Uint8Array(4096).fill(7));
    await four.close();
    for (const [source, options] of [
      [base, []],
      [child, []],
      [child, ["--block-size", "8M"]],
      [sector4k, []],
      [base, ["--logical-sector-size", "4096"]],
    ] as Array<[string, string[]]>) {
      const answer = await measured([...options, source]);
      expect(answer.required, `${source} ${options.join(" ")}`).toBe(await convertedSize(source, options));
    }
    // In the child's 1 MiB blocks: the parent's 3 MiB of data, and the child's sector at 40 MiB.
    expect((await measured([child])).allocatedBlocks).toBe(4);
  });

  it("--size: what create makes, dynamic (no block) and fixed (every block)", async () => {
    for (const [size, type, blockSize] of [
      ["100M", "dynamic", "32M"],
      ["100M", "fixed", "32M"],
      ["1G", "fixed", "1M"],
      ["3G", "dynamic", "256M"],
    ] as const) {
      const answer = await measured(["--size", size, "-t", type, "--block-size", blockSize]);
      const file = join(dir, `created-${count++}.vhdx`);
      const sparse = type === "fixed" ? ["--preallocation", "off"] : [];
      expectClean(await vhdx(["create", "-t", type, ...sparse, "--block-size", blockSize, file, size]));
      expect(answer.required, `${type} ${size}`).toBe(statSync(file).size);
    }
  });

  it.skipIf(!oracle("qemu-img"))("-O raw agrees with qemu-img measure", async () => {
    const raw = rawFile("for-qemu.raw", 48 * MiB, [[MiB, 4096, 9]]);
    const ours = await measured(["-O", "raw", raw]);
    const theirs = JSON.parse(run("qemu-img", ["measure", "--output=json", "-f", "raw", "-O", "raw", raw]));
    expect({ required: ours.required, fullyAllocated: ours.fullyAllocated }).toEqual({
      required: theirs.required,
      fullyAllocated: theirs["fully-allocated"],
    });
    // QEMU's vhdx driver does not measure: there is nothing to compare -O vhdx with.
    expect(() => run("qemu-img", ["measure", "-f", "raw", "-O", "vhdx", raw])).toThrow(/does not support/);
  });

  it("refuses SRC and --size together, and neither; has --help with examples", async () => {
    const both = await vhdx(["measure", "--size", "1G", "disk.raw"]);
    expect(both.status).toBe(2);
    expect(both.stderr).toMatch(/either SRC or --size/);
    expect((await vhdx(["measure"])).status).toBe(2);
    const help = vhdxProcess(["measure", "--help"]);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/Examples:\n {2}vhdx measure/);
  });
});
