// vhdx serve under load and faults, with the small client of
// serve-harness.ts: several clients at once doing seeded random reads and
// writes (pipelined) against a model; a client that vanishes part way
// through a request; SIGKILL of the server while writes are in flight, after
// which the image replays and holds every write acknowledged after a flush
// or with FUA.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createVhdx, openVhdx } from "@vhdx/image/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, vhdx } from "./harness.js";
import { TestClient, seededRandom as random, startServer } from "./serve-harness.js";

const KiB = 1024;
const MiB = 1 << 20;

let dir: string;
const at = (name: string) => join(dir, name);

beforeAll(() => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), "vhdx-serve-load-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function filled(length: number, next: () => number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i += 4) bytes[i] = (next() * 256) | 0;
  return bytes;
}

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : a.length;
}

describe("vhdx serve under load", () => {
  it("four clients at once, random pipelined reads and writes in interleaved stripes: every byte as the model says", async () => {
    const size = 16 * MiB;
    const stripe = 64 * KiB;
    const clients = 4;
    const operations = 120;
    await (await createVhdx(at("load.vhdx"), { size, blockSize: MiB })).close();
    const model = new Uint8Array(size);
    const served = await startServer(at("load.sock"), [at("load.vhdx")]);
    try {
      const work = Array.from({ length: clients }, async (_, index) => {
        const next = random(1000 + index);
        const client = await TestClient.connect(served.socket);
        const mine = Array.from({ length: size / stripe / clients }, (_, i) => (i * clients + index) * stripe);
        for (let done = 0; done < operations; ) {
          // A batch of requests in flight at once, on different stripes of this client's.
          const batch = new Set<number>();
          while (batch.size < 8) batch.add(mine[(next() * mine.length) | 0] as number);
          await Promise.all(
            [...batch].map(async (stripeStart) => {
              const offset = stripeStart + ((next() * (stripe / 512)) | 0) * 512;
              const length = Math.min(stripeStart + stripe - offset, 512 * (1 + ((next() * 64) | 0)));
              if (next() < 0.6) {
                const data = filled(length, next);
                await client.write(offset, data, next() < 0.1);
                model.set(data, offset);
              } else {
                const data = await client.read(offset, length);
                expect(firstDifference(data, model.subarray(offset, offset + length))).toBe(-1);
              }
            }),
          );
          done += batch.size;
          if (next() < 0.1) await client.flush();
        }
        const whole = await client.read(0, size);
        for (const start of mine) {
          expect(firstDifference(whole.subarray(start, start + stripe), model.subarray(start, start + stripe))).toBe(
            -1,
          );
        }
        await client.disconnect();
      });
      await Promise.all(work);
    } finally {
      expect(await served.stop()).toBe(0);
    }
    const image = await openVhdx(at("load.vhdx"));
    const bytes = await image.read(0, size);
    await image.close();
    expect(firstDifference(bytes, model)).toBe(-1);
    const check = await vhdx(["check", at("load.vhdx")]);
    expect(check.status, check.stdout).toBe(0);
  }, 120_000);

  it("a client that disconnects part way through a write leaves nothing written and the server serving", async () => {
    await (await createVhdx(at("cut.vhdx"), { size: 8 * MiB, blockSize: MiB })).close();
    const served = await startServer(at("cut.sock"), [at("cut.vhdx")]);
    try {
      const leaving = await TestClient.connect(served.socket);
      const header = Buffer.alloc(28);
      header.writeUInt32BE(0x25609513, 0);
      header.writeUInt16BE(1, 6);
      header.writeBigUInt64BE(7n, 8);
      header.writeBigUInt64BE(BigInt(MiB), 16);
      header.writeUInt32BE(MiB, 24);
      leaving.socket.write(Buffer.concat([header, Buffer.alloc(1000, 0xee)]));
      leaving.socket.destroy();
      const staying = await TestClient.connect(served.socket);
      await staying.write(0, new Uint8Array(4096).fill(5));
      expect((await staying.read(0, 4096)).every((b) => b === 5)).toBe(true);
      expect((await staying.read(MiB, MiB)).every((b) => b === 0)).toBe(true);
      await staying.disconnect();
    } finally {
      expect(await served.stop()).toBe(0);
    }
  }, 60_000);

  it("SIGTERM while writes are in flight: the writes answered are in the image, which is closed clean, and the socket is gone", async () => {
    await (await createVhdx(at("term.vhdx"), { size: 32 * MiB, blockSize: MiB })).close();
    const served = await startServer(at("term.sock"), [at("term.vhdx")]);
    const client = await TestClient.connect(served.socket);
    const piece = 256 * KiB;
    const writes = Array.from({ length: 64 }, (_, i) => client.write(i * piece, new Uint8Array(piece).fill(i + 1)));
    await writes[0];
    const status = served.stop("SIGTERM");
    const outcomes = await Promise.allSettled(writes);
    expect(await status).toBe(0);
    expect(existsSync(served.socket)).toBe(false);
    const image = await openVhdx(at("term.vhdx"));
    try {
      expect(image.needsReplay).toBe(false);
      for (let i = 0; i < outcomes.length; i++) {
        if (outcomes[i]?.status !== "fulfilled") continue;
        expect((await image.read(i * piece, piece)).every((b) => b === i + 1)).toBe(true);
      }
    } finally {
      await image.close();
    }
  }, 60_000);

  it("SIGKILL while writes are in flight: the image replays and holds every write acknowledged after a flush or with FUA", async () => {
    const size = 64 * MiB;
    await (await createVhdx(at("kill.vhdx"), { size, blockSize: MiB })).close();
    const served = await startServer(at("kill.sock"), [at("kill.vhdx")]);
    const next = random(7);
    const durable: Array<{ offset: number; data: Uint8Array }> = [];
    const client = await TestClient.connect(served.socket);
    let offset = 0;
    const write = (length: number, fua: boolean) => {
      const data = filled(length, next);
      const target = offset;
      offset += length + 512 * ((next() * 16) | 0);
      return client.write(target, data, fua).then(() => ({ offset: target, data }));
    };
    for (let round = 0; round < 6; round++) {
      const acknowledged = await Promise.all(
        Array.from({ length: 6 }, () => write(4 * KiB + 512 * ((next() * 200) | 0), false)),
      );
      await client.flush();
      durable.push(...acknowledged);
      durable.push(await write(8 * KiB, true));
    }
    // More writes in flight, never flushed, as the server dies.
    const inFlight = Array.from({ length: 8 }, () => write(256 * KiB, false).catch(() => null));
    served.child.kill("SIGKILL");
    await Promise.all(inFlight);
    await new Promise((resolve) => served.child.once("exit", resolve).exitCode !== null && resolve(null));
    const image = await openVhdx(at("kill.vhdx"), { readOnly: false });
    try {
      for (const { offset: start, data } of durable) {
        expect(firstDifference(await image.read(start, data.length), data)).toBe(-1);
      }
    } finally {
      await image.close();
    }
    const check = await vhdx(["check", at("kill.vhdx")]);
    expect(check.status, check.stdout).toBe(0);
  }, 60_000);
});
