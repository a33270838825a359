// The NBD server's answers, byte by byte, in-process over a real Unix
// socket (src/nbd + socket-stream.ts over an in-memory image): the options
// a client may send and the refusals the protocol prescribes, requests
// refused without a write, the connection closed where a request cannot be
// skipped, and stop() answering what is in flight before it closes.
import { mkdtempSync, rmSync } from "node:fs";
import { type Server, type Socket, connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemorySource, type VhdxImage, createImage } from "@vhdx/image";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { imageExport } from "../src/nbd/export.js";
import { NbdServer } from "../src/nbd/server.js";
import { socketStream } from "../src/socket-stream.js";
import { TestClient } from "./serve-harness.js";

const MiB = 1 << 20;
const MAX_PAYLOAD = 1 * MiB;
const IHAVEOPT = 0x49484156454f5054n;
const OPTION_REPLY_MAGIC = 0x3e889045565a9n;
const REP_ERR = 2 ** 31;

let dir: string;
let image: VhdxImage;
let server: NbdServer;
let listener: Server;
let socketPath: string;
let serial = 0;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "vhdx-serve-protocol-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function serve(readOnly = false): Promise<void> {
  image = await createImage(new MemorySource(), { size: 8 * MiB, blockSize: MiB });
  const base = imageExport(image, { name: "disk" });
  server = new NbdServer(readOnly ? { ...base, readOnly: true } : base, { maxPayload: MAX_PAYLOAD });
  socketPath = join(dir, `s${serial++}.sock`);
  listener = createServer((socket) => void server.serve(socketStream(socket)));
  await new Promise<void>((resolve) => listener.listen(socketPath, resolve));
}

afterEach(async () => {
  listener.close();
  await server.stop();
  await image.close();
});

/** A raw connection: bytes out, exactly N bytes in, or null when the server closed first. */
class Raw {
  private buffered = Buffer.alloc(0);
  private ended = false;
  private wake: (() => void) | null = null;
  constructor(readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      this.wake?.();
    });
    socket.on("close", () => {
      this.ended = true;
      this.wake?.();
    });
  }
  static async open(): Promise<Raw> {
    const socket = connect(socketPath);
    await new Promise((resolve) => socket.once("connect", resolve));
    const raw = new Raw(socket);
    await raw.take(18);
    socket.write(u32(3));
    return raw;
  }
  async take(length: number): Promise<Buffer | null> {
    while (this.buffered.length < length && !this.ended) await new Promise<void>((r) => (this.wake = r));
    if (this.buffered.length < length) return null;
    const bytes = this.buffered.subarray(0, length);
    this.buffered = this.buffered.subarray(length);
    return bytes;
  }
  /** Resolves true once the server closed the connection. */
  async closed(): Promise<boolean> {
    while (!this.ended) await new Promise<void>((r) => (this.wake = r));
    return true;
  }
  option(code: number, data: Buffer = Buffer.alloc(0), length = data.length): void {
    const header = Buffer.alloc(16);
    header.writeBigUInt64BE(IHAVEOPT, 0);
    header.writeUInt32BE(code, 8);
    header.writeUInt32BE(length, 12);
    this.socket.write(Buffer.concat([header, data]));
  }
  /** The next option reply: its type and data. */
  async reply(): Promise<{ option: number; type: number; data: Buffer }> {
    const header = (await this.take(20)) as Buffer;
    expect(header.readBigUInt64BE(0)).toBe(OPTION_REPLY_MAGIC);
    const data = (await this.take(header.readUInt32BE(16))) as Buffer;
    return { option: header.readUInt32BE(8), type: header.readUInt32BE(12), data };
  }
}

function u32(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value);
  return bytes;
}

function nameAndInfos(name: string): Buffer {
  return Buffer.concat([u32(name.length), Buffer.from(name), Buffer.from([0, 0])]);
}

describe("NBD handshake", () => {
  it("lists the export, answers unknown options and names with the protocol's errors, and goes on", async () => {
    await serve();
    const raw = await Raw.open();
    raw.option(3);
    const server = await raw.reply();
    expect(server.type).toBe(2);
    expect(server.data.subarray(4).toString()).toBe("disk");
    expect((await raw.reply()).type).toBe(1);
    raw.option(42, Buffer.from("whatever"));
    expect(await raw.reply()).toMatchObject({ option: 42, type: REP_ERR + 1 });
    raw.option(6, nameAndInfos("other"));
    expect((await raw.reply()).type).toBe(REP_ERR + 6);
    raw.option(6, Buffer.from([0, 0, 0, 9, 1]));
    expect((await raw.reply()).type).toBe(REP_ERR + 3);
    // base:allocation before structured replies: invalid.
    raw.option(10, Buffer.concat([u32(0), u32(0)]));
    expect((await raw.reply()).type).toBe(REP_ERR + 3);
    raw.option(7, nameAndInfos("disk"));
    const info = await raw.reply();
    expect(info.type).toBe(3);
    expect(info.data.readUInt16BE(0)).toBe(0);
    expect(Number(info.data.readBigUInt64BE(2))).toBe(8 * MiB);
    const sizes = await raw.reply();
    expect([sizes.data.readUInt16BE(0), sizes.data.readUInt32BE(2), sizes.data.readUInt32BE(10)]).toEqual([
      3,
      512,
      MAX_PAYLOAD,
    ]);
    expect((await raw.reply()).type).toBe(1);
    raw.socket.destroy();
  });

  it("refuses option data over its limit with NBD_REP_ERR_TOO_BIG and closes, without reading it", async () => {
    await serve();
    const raw = await Raw.open();
    raw.option(6, Buffer.alloc(0), 0xffffffff);
    expect((await raw.reply()).type).toBe(REP_ERR + 9);
    expect(await raw.closed()).toBe(true);
    // The server goes on serving others.
    const client = await TestClient.connect(socketPath);
    expect(client.size).toBe(8 * MiB);
    await client.disconnect();
  });

  it("closes a connection whose client sets unknown flags or a bad option magic", async () => {
    await serve();
    const flags = connect(socketPath);
    const rawFlags = new Raw(flags);
    await new Promise((resolve) => flags.once("connect", resolve));
    await rawFlags.take(18);
    flags.write(u32(0x80));
    expect(await rawFlags.closed()).toBe(true);
    const magic = await Raw.open();
    magic.socket.write(Buffer.alloc(16, 0x41));
    expect(await magic.closed()).toBe(true);
  });
});

describe("NBD transmission", () => {
  it("refuses out-of-range, oversized and unknown requests with their errors, writing nothing, then serves on", async () => {
    await serve();
    const client = await TestClient.connect(socketPath);
    const size = 8 * MiB;
    expect((await client.request(1, size - 512, 1024, { payload: new Uint8Array(1024).fill(1) })).error).toBe(28);
    expect((await client.request(0, size, 512)).error).toBe(22);
    expect((await client.request(0, 0, MAX_PAYLOAD + 1)).error).toBe(22);
    expect((await client.request(6, size - 512, 4096)).error).toBe(28);
    expect((await client.request(4, 2 ** 53, 512)).error).toBe(22);
    expect((await client.request(99, 0, 512)).error).toBe(22);
    expect((await client.request(1, 0, 512, { flags: 0x40, payload: new Uint8Array(512).fill(2) })).error).toBe(22);
    // BLOCK_STATUS without base:allocation selected.
    expect((await client.request(7, 0, 512)).error).toBe(22);
    expect((await client.read(size - MiB, MiB)).every((b) => b === 0)).toBe(true);
    expect((await client.read(0, 512)).every((b) => b === 0)).toBe(true);
    await client.write(0, new Uint8Array(512).fill(3), true);
    expect((await client.read(0, 512)).every((b) => b === 3)).toBe(true);
    await client.disconnect();
  });

  it("answers a write over the maximum payload with an error and closes, never reading the payload", async () => {
    await serve();
    const client = await TestClient.connect(socketPath);
    const reply = await client.request(1, 0, MAX_PAYLOAD + 512);
    expect(reply.error).toBe(22);
    await expect(client.read(0, 512)).rejects.toThrow(/closed/);
  });

  it("refuses every write to a read-only export with EPERM", async () => {
    await serve(true);
    const client = await TestClient.connect(socketPath);
    expect(client.flags & 2).toBe(2);
    expect((await client.request(1, 0, 512, { payload: new Uint8Array(512).fill(9) })).error).toBe(1);
    expect((await client.request(6, 0, MiB)).error).toBe(1);
    expect((await client.request(4, 0, MiB)).error).toBe(1);
    expect((await client.read(0, 512)).every((b) => b === 0)).toBe(true);
    await client.disconnect();
  });

  it("stop() answers the requests in flight, then ends the connections", async () => {
    await serve();
    const client = await TestClient.connect(socketPath);
    const writes = Array.from({ length: 12 }, (_, i) =>
      client.write(i * 256 * 1024, new Uint8Array(256 * 1024).fill(i + 1)),
    );
    // Wait until the server has taken some of them in, then stop while others are in flight.
    await writes[0];
    const stopped = server.stop();
    const outcomes = await Promise.allSettled(writes);
    await stopped;
    const answered = outcomes.filter((o) => o.status === "fulfilled").length;
    expect(answered).toBeGreaterThan(0);
    // Every acknowledged write is in the image.
    for (let i = 0; i < outcomes.length; i++) {
      if (outcomes[i]?.status !== "fulfilled") continue;
      expect((await image.read(i * 256 * 1024, 256 * 1024)).every((b) => b === i + 1)).toBe(true);
    }
    expect(server.connectionCount).toBe(0);
  });
});
