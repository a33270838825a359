// vhdx discard and vhdx write --zero: what they report, what the disk reads
// afterwards (against a model, through qemu-img for a 512-byte dynamic image
// and libvhdi for a differencing child), that compact then gives the freed
// space back, and the refusals.
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PAYLOAD_BLOCK_UNMAPPED } from "@vhdx/structs";
import { createVhdx, openVhdx } from "@vhdx/image/node";
import { pyvhdiRead } from "@vhdx-tools/oracles";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, expectClean, oracle, run, vhdx, vhdxProcess } from "./harness.js";

const MiB = 1 << 20;
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "vhdx-cli-discard-"));
  ensureBuilt();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function pattern(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = 1 + ((i * 13 + seed) % 251);
  return bytes;
}

/** A dynamic image of 8 MiB, 1 MiB blocks, every byte written; returns its path and model. */
async function fullImage(name: string): Promise<{ file: string; model: Uint8Array }> {
  const file = join(dir, name);
  const model = pattern(8 * MiB, name.length);
  const image = await createVhdx(file, { size: 8 * MiB, blockSize: MiB });
  await image.write(0, model);
  await image.close();
  return { file, model };
}

async function contents(file: string): Promise<Uint8Array> {
  const image = await openVhdx(file);
  try {
    return await image.read(0, image.virtualSize);
  } finally {
    await image.close();
  }
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) === 0;
}

describe("vhdx discard", () => {
  it("frees whole blocks, zeros the parts, reports both, and compact then shrinks the file", async () => {
    const { file, model } = await fullImage("disk.vhdx");
    const outcome = await vhdx(["discard", "--json", file, "--offset", "512K", "--length", "3M"]);
    expectClean(outcome);
    expect(JSON.parse(outcome.stdout)).toEqual({
      file,
      offset: 512 * 1024,
      length: 3 * MiB,
      freedBytes: 2 * MiB,
      zeroedBytes: MiB,
      keptBytes: 0,
    });
    model.fill(0, 512 * 1024, 512 * 1024 + 3 * MiB);
    expect(same(await contents(file), model)).toBe(true);
    const image = await openVhdx(file);
    const table = await image.bat();
    expect([1, 2].map((b) => table.payloadState(b))).toEqual([PAYLOAD_BLOCK_UNMAPPED, PAYLOAD_BLOCK_UNMAPPED]);
    await image.close();

    const before = statSync(file).size;
    expectClean(await vhdx(["compact", file]));
    expect(statSync(file).size).toBe(before - 2 * MiB);
    expect(same(await contents(file), model)).toBe(true);
    if (oracle("qemu-img")) {
      expect(run("qemu-img", ["check", file])).toMatch(/No errors were found/);
      const raw = join(dir, "disk.raw");
      writeFileSync(raw, model);
      expect(run("qemu-img", ["compare", "-f", "vhdx", "-F", "raw", file, raw])).toMatch(/identical/);
    }
  });

  it("--keep-partial leaves the parts and says so; the text report names compact", async () => {
    const { file, model } = await fullImage("keep.vhdx");
    const outcome = await vhdx(["discard", "--keep-partial", file, "--offset", "1000", "--length", "2M"]);
    expectClean(outcome);
    expect(outcome.stdout).toMatch(/1 MiB freed, .*1 MiB kept.*vhdx compact/);
    model.fill(0, MiB, 2 * MiB);
    expect(same(await contents(file), model)).toBe(true);
  });

  it("in a differencing child: whole blocks read from the parent again, parts read as zeros (libvhdi agrees)", async () => {
    const base = join(dir, "base.vhdx");
    const child = join(dir, "child.vhdx");
    const parentBytes = pattern(4 * MiB, 3);
    const parent = await createVhdx(base, { size: 4 * MiB, blockSize: MiB });
    await parent.write(0, parentBytes);
    await parent.close();
    const image = await createVhdx(child, { type: "differencing", parent: base });
    await image.write(0, pattern(4 * MiB, 9));
    await image.close();
    const outcome = await vhdx(["discard", "--json", child, "--offset", "1536K", "--length", "2M"]);
    expectClean(outcome);
    expect(JSON.parse(outcome.stdout)).toMatchObject({ freedBytes: MiB, zeroedBytes: MiB, keptBytes: 0 });
    const expected = pattern(4 * MiB, 9);
    expected.fill(0, 1536 * 1024, 2 * MiB);
    expected.set(parentBytes.subarray(2 * MiB, 3 * MiB), 2 * MiB);
    expected.fill(0, 3 * MiB, 3 * MiB + 512 * 1024);
    expect(same(await contents(child), expected)).toBe(true);
    if (oracle("pyvhdi")) expect(same(pyvhdiRead(child, [[0, 4 * MiB]], [base]), expected)).toBe(true);
  });

  it("refuses a missing range, a range past the end, and a read-only use", async () => {
    const { file } = await fullImage("refuse.vhdx");
    const missing = await vhdx(["discard", file, "--offset", "0"]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/INVALID_ARGUMENT: discard: give the range/);
    const past = await vhdx(["discard", file, "--offset", "7M", "--length", "2M"]);
    expect(past.status).toBe(2);
    expect(past.stderr).toMatch(/OUT_OF_RANGE/);
  });

  it("has --help with examples, as the built command", () => {
    const help = vhdxProcess(["discard", "--help"]);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/Examples:\n {2}vhdx discard/);
    expect(help.stdout).toMatch(/vhdx compact/);
  });
});

describe("vhdx write --zero", () => {
  it("makes the range read as zeros, in a child too, without an INPUT", async () => {
    const { file, model } = await fullImage("zero.vhdx");
    const outcome = await vhdx(["write", "--zero", "--json", file, "--offset", "100", "--length", "2M"]);
    expectClean(outcome);
    expect(JSON.parse(outcome.stdout)).toMatchObject({ zero: true, offset: 100, length: 2 * MiB });
    model.fill(0, 100, 100 + 2 * MiB);
    expect(same(await contents(file), model)).toBe(true);
  });

  it("refuses --zero with an INPUT, and --length without --zero", async () => {
    const { file } = await fullImage("zero-refuse.vhdx");
    const both = await vhdx(["write", "--zero", file, "--offset", "0", "--length", "1M", "input.bin"]);
    expect(both.status).toBe(2);
    expect(both.stderr).toMatch(/FILE alone with --zero/);
    const noZero = await vhdx(["write", file, "--offset", "0", "--length", "1M", "input.bin"]);
    expect(noZero.status).toBe(2);
    expect(noZero.stderr).toMatch(/--length goes with --zero/);
    const noLength = await vhdx(["write", "--zero", file, "--offset", "0"]);
    expect(noLength.stderr).toMatch(/--zero needs --length/);
  });
});
