// vhdx serve against clients nobody here wrote: qemu-img convert and nbdcopy
// read a served differencing chain and a 4 KiB-sector image as vhdx cat
// does; nbdinfo --map says what vhdx map says; qemu-io writes, zero-writes,
// discards and flushes through the server, and the image afterwards reads
// as a model of those says and passes vhdx check and qemu-img check.
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { qemuCheck, run } from "@vhdx-tools/oracles";
import { createVhdx, openVhdx } from "@vhdx/image/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, oracle, vhdx } from "./harness.js";
import { startServer } from "./serve-harness.js";

const MiB = 1 << 20;
const hasOracles = [oracle("qemu-img"), oracle("qemu-io"), oracle("nbdinfo"), oracle("nbdcopy")].every(Boolean);

let dir: string;
const at = (name: string) => join(dir, name);

beforeAll(() => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), "vhdx-serve-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A base with data in a few blocks and a differencing child that overwrites parts of them, sector-unaligned to blocks. */
async function makeChain(): Promise<string> {
  const base = await createVhdx(at("base.vhdx"), { size: 48 * MiB, blockSize: MiB });
  await base.write(0, randomBytes(3 * MiB));
  await base.write(20 * MiB + 4096, randomBytes(700 * 1024));
  await base.close();
  const child = await createVhdx(at("child.avhdx"), { type: "differencing", parent: at("base.vhdx") });
  await child.write(MiB + 512, randomBytes(64 * 1024));
  await child.write(30 * MiB, randomBytes(2 * MiB));
  await child.writeZeroes(2 * MiB, MiB);
  await child.close();
  return at("child.avhdx");
}

async function catOf(path: string): Promise<Buffer> {
  const out = await vhdx(["cat", path]);
  expect(out.status, out.stderr).toBe(0);
  return out.stdoutBytes;
}

/** nbdinfo --map's lines as [start, length, data?], neighbours that agree merged. */
function nbdMap(uri: string): Array<[number, number, boolean]> {
  const lines = run("nbdinfo", ["--map", uri]).toString().trim().split("\n");
  return merge(
    lines.map((line) => {
      const [start, length, type] = line.trim().split(/\s+/).map(Number) as [number, number, number];
      return [start, length, (type & 1) === 0];
    }),
  );
}

async function vhdxMap(path: string): Promise<Array<[number, number, boolean]>> {
  const out = await vhdx(["map", "--json", path]);
  expect(out.status, out.stderr).toBe(0);
  const extents = JSON.parse(out.stdout) as Array<{ start: number; length: number; data: boolean }>;
  return merge(extents.map((e) => [e.start, e.length, e.data]));
}

function merge(runs: Array<[number, number, boolean]>): Array<[number, number, boolean]> {
  const merged: Array<[number, number, boolean]> = [];
  for (const run of runs) {
    const last = merged[merged.length - 1];
    if (last !== undefined && last[2] === run[2] && last[0] + last[1] === run[0]) last[1] += run[1];
    else merged.push([...run]);
  }
  return merged;
}

describe.skipIf(!hasOracles)("vhdx serve with qemu and libnbd as clients", () => {
  it("serves a differencing chain: qemu-img convert, nbdcopy and nbdinfo --map agree with vhdx cat and map", async () => {
    const child = await makeChain();
    const expected = await catOf(child);
    const served = await startServer(at("chain.sock"), ["--read-only", child]);
    try {
      run("qemu-img", ["convert", "-f", "raw", "-O", "raw", served.uri, at("chain-qemu.raw")]);
      expect(readFileSync(at("chain-qemu.raw")).equals(expected)).toBe(true);
      run("nbdcopy", [served.uri, at("chain-nbdcopy.raw")]);
      expect(readFileSync(at("chain-nbdcopy.raw")).equals(expected)).toBe(true);
      expect(nbdMap(served.uri)).toEqual(await vhdxMap(child));
      // Read-only opens share the lock: another reader may open the chain meanwhile.
      const info = await vhdx(["info", child]);
      expect(info.status, info.stderr).toBe(0);
      // Read-only: qemu-io's write is refused by the server.
      const write = () => run("qemu-io", ["-f", "raw", "-c", "write 0 4k", served.uri]);
      expect(write).toThrow();
    } finally {
      expect(await served.stop()).toBe(0);
    }
    expect(served.stderr()).toBe("");
  }, 120_000);

  it("listens on 127.0.0.1 unless told otherwise (--port 0: a free port, printed), and stops at SIGINT with status 0", async () => {
    await (await createVhdx(at("tcp.vhdx"), { size: 8 * MiB })).close();
    const served = await startServer(null, ["--port", "0", "--export-name", "tcp", at("tcp.vhdx")]);
    try {
      expect(served.uri).toMatch(/^nbd:\/\/127\.0\.0\.1:\d+\/tcp$/);
      expect(run("nbdinfo", ["--size", served.uri]).toString().trim()).toBe(String(8 * MiB));
      expect(run("nbdinfo", ["--list", served.uri.replace(/\/tcp$/, "")]).toString()).toMatch(/export="tcp"/);
    } finally {
      expect(await served.stop("SIGINT")).toBe(0);
    }
    // The lock was held while serving and is free again.
    const write = await vhdx(["write", "--zero", "--offset", "0", "--length", "4096", at("tcp.vhdx")]);
    expect(write.status, write.stderr).toBe(0);
  }, 60_000);

  it("serves a 4 KiB-sector image with its sector size as the minimum block size", async () => {
    const image = await createVhdx(at("4k.vhdx"), { size: 32 * MiB, blockSize: MiB, logicalSectorSize: 4096 });
    await image.write(5 * MiB, randomBytes(3 * MiB));
    await image.close();
    const expected = await catOf(at("4k.vhdx"));
    const served = await startServer(at("4k.sock"), ["--read-only", at("4k.vhdx")]);
    try {
      expect(run("nbdinfo", ["--json", served.uri]).toString()).toMatch(/"block_size_minimum": 4096/);
      run("nbdcopy", [served.uri, at("4k.raw")]);
      expect(readFileSync(at("4k.raw")).equals(expected)).toBe(true);
      expect(nbdMap(served.uri)).toEqual(await vhdxMap(at("4k.vhdx")));
    } finally {
      expect(await served.stop()).toBe(0);
    }
  }, 120_000);

  it("takes qemu-io's writes, zero writes, discards and flushes; the image then reads as the model says and checks clean", async () => {
    const size = 24 * MiB;
    const image = await createVhdx(at("rw.vhdx"), { size, blockSize: MiB });
    const initial = randomBytes(size);
    await image.write(0, initial);
    await image.close();
    const model = Buffer.from(initial);
    const commands: string[] = [];
    const pattern = (offset: number, length: number, byte: number) => {
      commands.push(`write -P ${byte} ${offset} ${length}`);
      model.fill(byte, offset, offset + length);
    };
    const zero = (offset: number, length: number, unmap: boolean) => {
      commands.push(`write -z ${unmap ? "-u " : ""}${offset} ${length}`);
      model.fill(0, offset, offset + length);
    };
    pattern(512, 4096, 0x11);
    pattern(MiB - 1024, 8192, 0x22);
    zero(3 * MiB, 2 * MiB, true);
    zero(6 * MiB + 512, 4096, false);
    // A discard of whole blocks: a dynamic image reads them as zeros afterwards.
    commands.push(`discard ${8 * MiB} ${2 * MiB}`);
    model.fill(0, 8 * MiB, 10 * MiB);
    commands.push("flush");
    pattern(12 * MiB + 4096, 64 * 1024, 0x33);
    commands.push(`write -f -P 68 ${14 * MiB} 4096`);
    model.fill(68, 14 * MiB, 14 * MiB + 4096);
    const served = await startServer(at("rw.sock"), [at("rw.vhdx")]);
    try {
      // Served read-write, the image is locked: a second writer is refused.
      const locked = await vhdx(["write", "--zero", "--offset", "0", "--length", "512", at("rw.vhdx")]);
      expect(locked.stderr).toMatch(/LOCKED/);
      run("qemu-io", ["-f", "raw", ...commands.flatMap((c) => ["-c", c]), served.uri]);
      // Reads through the server see the writes before the server stops.
      run("qemu-img", ["convert", "-f", "raw", "-O", "raw", served.uri, at("rw-served.raw")]);
      expect(readFileSync(at("rw-served.raw")).equals(model)).toBe(true);
    } finally {
      expect(await served.stop()).toBe(0);
    }
    expect((await catOf(at("rw.vhdx"))).equals(model)).toBe(true);
    const check = await vhdx(["check", at("rw.vhdx")]);
    expect(check.status, check.stdout + check.stderr).toBe(0);
    qemuCheck(at("rw.vhdx"));
    // The whole blocks discarded hold no space any more.
    const reopened = await openVhdx(at("rw.vhdx"));
    const kinds = [];
    for await (const extent of reopened.extents(8 * MiB, 2 * MiB)) kinds.push(extent.kind);
    await reopened.close();
    expect(kinds).not.toContain("data");
  }, 120_000);
});
