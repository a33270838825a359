// Hostile NBD clients against the server in-process (src/nbd over an
// in-memory stream and an in-memory image): seeded mutations of a valid
// session (handshake and requests: bytes flipped, lengths and offsets made
// huge or past the end, unknown options, commands and flags, streams cut
// short). Whatever comes in: no exception escapes, every connection ends
// once its input does, nothing reaches the image from a request that breaks
// a rule (out of range, over the maximum payload, or any write to a
// read-only export), and no read is larger than the maximum payload.
import { MemorySource, createImage } from "@vhdx/image";
import { describe, expect, it } from "vitest";
import { type ByteStream, StreamEnded } from "../src/nbd/byte-stream.js";
import { type NbdExport, imageExport } from "../src/nbd/export.js";
import { NbdServer } from "../src/nbd/server.js";
import { seededRandom as random } from "./serve-harness.js";

const MiB = 1 << 20;
const SIZE = 4 * MiB;
const MAX_PAYLOAD = 64 * 1024;
const IHAVEOPT = 0x49484156454f5054n;

/** A connection whose client sends `input` and then closes; what the server sends is kept. */
function scriptedStream(input: Uint8Array): ByteStream & { output: number; closed: boolean } {
  let at = 0;
  const stream = {
    output: 0,
    closed: false,
    read(length: number): Promise<Uint8Array | null> {
      if (stream.closed || at >= input.length) return Promise.resolve(null);
      if (at + length > input.length) {
        at = input.length;
        return Promise.reject(new StreamEnded());
      }
      const bytes = input.slice(at, at + length);
      at += length;
      return Promise.resolve(bytes);
    },
    write(...chunks: Uint8Array[]): Promise<void> {
      if (stream.closed) return Promise.reject(new StreamEnded("closed"));
      for (const chunk of chunks) stream.output += chunk.length;
      return Promise.resolve();
    },
    close() {
      stream.closed = true;
    },
  };
  return stream;
}

/** The export with every call checked against the rules the server must enforce before calling it. */
function guarded(exp: NbdExport, violations: string[]): NbdExport {
  const range = (what: string, offset: number, length: number) => {
    if (!Number.isSafeInteger(offset) || offset < 0 || length < 0 || offset + length > exp.size)
      violations.push(`${what} out of range: ${offset} + ${length}`);
  };
  const writing = (what: string, offset: number, length: number) => {
    if (exp.readOnly) violations.push(`${what} on a read-only export`);
    range(what, offset, length);
  };
  return {
    ...exp,
    readInto(buffer, offset) {
      if (buffer.length > MAX_PAYLOAD) violations.push(`read of ${buffer.length} bytes`);
      range("read", offset, buffer.length);
      return exp.readInto(buffer, offset);
    },
    write(offset, data) {
      if (data.length > MAX_PAYLOAD) violations.push(`write of ${data.length} bytes`);
      writing("write", offset, data.length);
      return exp.write(offset, data);
    },
    writeZeroes(offset, length, allocate) {
      writing("write zeroes", offset, length);
      return exp.writeZeroes(offset, length, allocate);
    },
    trim(offset, length) {
      writing("trim", offset, length);
      return exp.trim(offset, length);
    },
    allocation(offset, length, maxRuns) {
      range("block status", offset, length);
      return exp.allocation(offset, length, maxRuns);
    },
  };
}

class Script {
  private readonly parts: Uint8Array[] = [];
  constructor(private readonly next: () => number) {}

  bytes(length: number, fill: (view: DataView) => void): this {
    const bytes = new Uint8Array(length);
    fill(new DataView(bytes.buffer));
    this.parts.push(bytes);
    return this;
  }

  option(code: number, data: Uint8Array): this {
    this.bytes(16, (v) => {
      v.setBigUint64(0, IHAVEOPT);
      v.setUint32(8, code);
      v.setUint32(12, data.length);
    });
    this.parts.push(data);
    return this;
  }

  request(type: number, flags: number, offset: bigint, length: number, payload = 0): this {
    this.bytes(28, (v) => {
      v.setUint32(0, 0x25609513);
      v.setUint16(4, flags);
      v.setUint16(6, type);
      v.setBigUint64(8, BigInt((this.next() * 2 ** 32) >>> 0));
      v.setBigUint64(16, offset);
      v.setUint32(24, length);
    });
    if (payload > 0) this.parts.push(new Uint8Array(payload).fill(0xa5));
    return this;
  }

  done(): Uint8Array {
    const total = this.parts.reduce((sum, part) => sum + part.length, 0);
    const out = new Uint8Array(total);
    let at = 0;
    for (const part of this.parts) {
      out.set(part, at);
      at += part.length;
    }
    return out;
  }
}

const GO_DEFAULT = new Uint8Array([0, 0, 0, 0, 0, 0]);
const SET_BASE_ALLOCATION = (() => {
  const name = new TextEncoder().encode("base:allocation");
  const data = new Uint8Array(4 + 4 + 4 + name.length);
  const view = new DataView(data.buffer);
  view.setUint32(4, 1);
  view.setUint32(8, name.length);
  data.set(name, 12);
  return data;
})();

/** A session that is valid apart from what the generator chooses to break. */
function session(next: () => number): Uint8Array {
  const pick = <T>(items: readonly T[]): T => items[(next() * items.length) | 0] as T;
  const script = new Script(next);
  script.bytes(4, (v) => v.setUint32(0, next() < 0.9 ? 3 : (next() * 2 ** 32) >>> 0));
  const options = (next() * 4) | 0;
  for (let i = 0; i < options; i++) {
    const code = pick([8, 10, 9, 3, 6, 5, 42, 0xffffffff, 2]);
    const data =
      code === 10 || code === 9
        ? SET_BASE_ALLOCATION
        : code === 6
          ? GO_DEFAULT
          : new Uint8Array((next() * 64) | 0).fill((next() * 256) | 0);
    script.option(code, data);
  }
  if (next() < 0.05) script.option(7, new Uint8Array([0xff, 0xff, 0xff, 0xff, 0, 0]));
  if (next() < 0.05) script.bytes(16, (v) => v.setUint32(12, 0xffffffff));
  script.option(7, GO_DEFAULT);
  const requests = 1 + ((next() * 12) | 0);
  for (let i = 0; i < requests; i++) {
    const type = pick([0, 1, 3, 4, 6, 7, 7, 1, 0, 9, 0xffff, 5]);
    const flags = next() < 0.7 ? pick([0, 1, 2, 4, 8]) : (next() * 0x10000) | 0;
    const offset = pick([
      0n,
      BigInt(SIZE - 512),
      BigInt(SIZE),
      BigInt(SIZE) * 2n,
      0xffffffffffffffffn,
      BigInt((next() * SIZE) | 0),
    ]);
    const length = pick([0, 512, 4096, MAX_PAYLOAD, MAX_PAYLOAD + 1, 0xffffffff, (next() * 2 * MAX_PAYLOAD) | 0]);
    const payload = type === 1 ? Math.min(length, next() < 0.9 ? length : (next() * length) | 0, 2 * MAX_PAYLOAD) : 0;
    script.request(type, flags, offset, length, payload);
  }
  if (next() < 0.3) script.request(2, 0, 0n, 0);
  const bytes = script.done();
  // A few flipped bytes, and sometimes a stream cut short.
  const flips = next() < 0.5 ? 0 : 1 + ((next() * 4) | 0);
  for (let i = 0; i < flips; i++) bytes[(next() * bytes.length) | 0] = (next() * 256) | 0;
  return next() < 0.2 ? bytes.subarray(0, (next() * bytes.length) | 0) : bytes;
}

async function fuzz(readOnly: boolean, seed: number, iterations: number): Promise<{ sessions: number }> {
  const image = await createImage(new MemorySource(), { size: SIZE, blockSize: MiB });
  const violations: string[] = [];
  const base = imageExport(image);
  const exp = guarded(readOnly ? { ...base, readOnly: true } : base, violations);
  const server = new NbdServer(exp, { maxPayload: MAX_PAYLOAD, handshakeTimeoutMs: 60_000 });
  const next = random(seed);
  for (let i = 0; i < iterations; i++) {
    const stream = scriptedStream(session(next));
    await server.serve(stream);
    expect(stream.closed, `iteration ${i}: the connection was left open`).toBe(true);
  }
  expect(violations).toEqual([]);
  expect(server.connectionCount).toBe(0);
  await image.close();
  return { sessions: server.sessions };
}

describe("NBD server fuzzing (seeded, bounded)", () => {
  it("a read-write export: nothing out of range or over the payload reaches the image", async () => {
    const { sessions } = await fuzz(false, 20, 400);
    // The generator is worth something only if many sessions reach transmission.
    expect(sessions).toBeGreaterThan(100);
  }, 60_000);

  it("a read-only export: no write of any kind reaches the image", async () => {
    const { sessions } = await fuzz(true, 21, 400);
    expect(sessions).toBeGreaterThan(100);
  }, 60_000);
});
