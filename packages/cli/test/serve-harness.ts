// For the tests of vhdx serve: the built command started as a user starts
// it (a subprocess, ready when it prints its --json line), and a small NBD
// client of our own over node:net (fixed newstyle, NBD_OPT_GO, simple
// replies, requests pipelined), for the load and fault tests that need
// requests in flight at chosen moments.
import { type ChildProcess, spawn } from "node:child_process";
import { type Socket, connect } from "node:net";
import { bin } from "./harness.js";

export interface Served {
  child: ChildProcess;
  uri: string;
  /** The Unix socket, or "" on TCP. */
  socket: string;
  /** Everything written on stderr so far. */
  stderr(): string;
  /** SIGTERM, then the exit status. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `vhdx serve --json --socket SOCKET ...args` (no --socket when null); resolves when it listens. */
export function startServer(socket: string | null, args: string[]): Promise<Served> {
  const listen = socket === null ? [] : ["--socket", socket];
  const child = spawn(process.execPath, [bin, "serve", "--json", ...listen, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let err = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    err += chunk.toString();
  });
  const exited = new Promise<number | null>((done) => child.on("exit", (code) => done(code)));
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split("\n")[0];
      if (!out.includes("\n") || line === undefined) return;
      const ready = JSON.parse(line) as { uri: string };
      resolve({
        child,
        uri: ready.uri,
        socket: socket ?? "",
        stderr: () => err,
        async stop(signal = "SIGTERM") {
          child.kill(signal);
          return exited;
        },
      });
    });
    void exited.then((code) => reject(new Error(`vhdx serve exited (${code}) before listening: ${err}`)));
  });
}

const IHAVEOPT = 0x49484156454f5054n;

/** A reply to one request: the error value, and the data of a READ. */
interface Reply {
  error: number;
  data: Uint8Array;
}

export class TestClient {
  private buffered = Buffer.alloc(0);
  private waiting: { length: number; resolve: (bytes: Buffer) => void; reject: (e: Error) => void } | null = null;
  private readonly pending = new Map<
    bigint,
    { readLength: number; resolve: (reply: Reply) => void; reject: (e: Error) => void }
  >();
  private nextHandle = 1n;
  private closed: Error | null = null;
  size = 0;
  flags = 0;

  private constructor(readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      this.settle();
    });
    const end = () => {
      this.closed ??= new Error("the server closed the connection");
      this.settle();
      for (const request of this.pending.values()) request.reject(this.closed);
      this.pending.clear();
    };
    socket.on("close", end);
    socket.on("error", () => end());
  }

  /** Connects and enters transmission with NBD_OPT_GO on the default export. */
  static async connect(path: string): Promise<TestClient> {
    const socket = connect(path);
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    const client = new TestClient(socket);
    await client.handshake();
    void client.replies();
    return client;
  }

  /** Exactly `length` bytes from the server. */
  take(length: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.waiting = { length, resolve, reject };
      this.settle();
    });
  }

  private settle(): void {
    const waiting = this.waiting;
    if (waiting === null) return;
    if (this.buffered.length >= waiting.length) {
      this.waiting = null;
      const bytes = this.buffered.subarray(0, waiting.length);
      this.buffered = this.buffered.subarray(waiting.length);
      waiting.resolve(Buffer.from(bytes));
    } else if (this.closed !== null) {
      this.waiting = null;
      waiting.reject(this.closed);
    }
  }

  private async handshake(): Promise<void> {
    const greeting = await this.take(18);
    if (greeting.readBigUInt64BE(8) !== IHAVEOPT) throw new Error("not a newstyle NBD server");
    const flags = Buffer.alloc(4);
    flags.writeUInt32BE(3);
    this.socket.write(flags);
    const go = Buffer.alloc(16 + 6);
    go.writeBigUInt64BE(IHAVEOPT, 0);
    go.writeUInt32BE(7, 8);
    go.writeUInt32BE(6, 12);
    this.socket.write(go);
    for (;;) {
      const header = await this.take(20);
      const type = header.readUInt32BE(12);
      const data = await this.take(header.readUInt32BE(16));
      if (type === 1) return;
      if (type !== 3) throw new Error(`NBD_OPT_GO refused: reply type ${type}`);
      if (data.readUInt16BE(0) === 0) {
        this.size = Number(data.readBigUInt64BE(2));
        this.flags = data.readUInt16BE(10);
      }
    }
  }

  private async replies(): Promise<void> {
    try {
      for (;;) {
        const header = await this.take(16);
        const handle = header.readBigUInt64BE(8);
        const request = this.pending.get(handle);
        if (request === undefined) throw new Error(`a reply to unknown handle ${handle}`);
        this.pending.delete(handle);
        const error = header.readUInt32BE(4);
        const data = error === 0 && request.readLength > 0 ? await this.take(request.readLength) : new Uint8Array(0);
        request.resolve({ error, data });
      }
    } catch {
      // The connection ended: pending requests were rejected.
    }
  }

  /** Sends one request (and its payload); resolves with its reply. */
  request(
    type: number,
    offset: number,
    length: number,
    options: { flags?: number; payload?: Uint8Array } = {},
  ): Promise<Reply> {
    if (this.closed) return Promise.reject(this.closed);
    const handle = this.nextHandle++;
    const header = Buffer.alloc(28);
    header.writeUInt32BE(0x25609513, 0);
    header.writeUInt16BE(options.flags ?? 0, 4);
    header.writeUInt16BE(type, 6);
    header.writeBigUInt64BE(handle, 8);
    header.writeBigUInt64BE(BigInt(offset), 16);
    header.writeUInt32BE(length, 24);
    const reply = new Promise<Reply>((resolve, reject) => {
      this.pending.set(handle, { readLength: type === 0 ? length : 0, resolve, reject });
    });
    this.socket.write(options.payload ? Buffer.concat([header, options.payload]) : header);
    return reply;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    const reply = await this.request(0, offset, length);
    if (reply.error !== 0) throw new Error(`READ failed: error ${reply.error}`);
    return reply.data;
  }

  async write(offset: number, data: Uint8Array, fua = false): Promise<void> {
    const reply = await this.request(1, offset, data.length, { payload: data, flags: fua ? 1 : 0 });
    if (reply.error !== 0) throw new Error(`WRITE failed: error ${reply.error}`);
  }

  async flush(): Promise<void> {
    const reply = await this.request(3, 0, 0);
    if (reply.error !== 0) throw new Error(`FLUSH failed: error ${reply.error}`);
  }

  /** NBD_CMD_DISC, then waits for the server to close. */
  async disconnect(): Promise<void> {
    const closed = new Promise((resolve) => this.socket.once("close", resolve));
    this.request(2, 0, 0).catch(() => {});
    await closed;
  }
}

/** A seeded generator (mulberry32), so a failure can be replayed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}
