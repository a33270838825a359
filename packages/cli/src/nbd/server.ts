// An NBD server of one export: each connection runs the handshake, then the
// transmission phase, over its ByteStream. One connection's failure (a
// hostile or vanished client) ends that connection only. stop() refuses new
// connections and options, lets the requests in flight be answered, and
// resolves when every connection has ended.
import { BufferPool } from "./buffer-pool.js";
import type { ByteStream } from "./byte-stream.js";
import type { NbdExport } from "./export.js";
import { negotiate } from "./handshake.js";
import { transmit } from "./transmission.js";

export interface NbdServerOptions {
  /** The most a READ or WRITE may carry (NBD_INFO_BLOCK_SIZE's maximum); default 32 MiB. */
  maxPayload?: number;
  /** Connections served at once; more are closed at once. Default 16. */
  maxConnections?: number;
  /** A client that has not finished the handshake by then is disconnected; default 10 s. */
  handshakeTimeoutMs?: number;
}

export const DEFAULT_MAX_PAYLOAD = 32 * 1024 * 1024;
/** READ buffers kept for reuse, across connections. */
const POOLED_BYTES = 16 * 1024 * 1024;

export class NbdServer {
  readonly maxPayload: number;
  readonly maxConnections: number;
  private readonly handshakeTimeoutMs: number;
  private readonly connections = new Set<Promise<void>>();
  private stopping = false;
  private readonly stopController = new AbortController();
  /** Streams still in the handshake: stop() closes them. */
  private readonly negotiating = new Set<ByteStream>();
  /** READ buffers, shared by the connections. */
  private readonly buffers = new BufferPool(POOLED_BYTES);
  /** Connections that reached the transmission phase, over the server's life. */
  sessions = 0;

  constructor(
    readonly export_: NbdExport,
    options: NbdServerOptions = {},
  ) {
    this.maxPayload = options.maxPayload ?? DEFAULT_MAX_PAYLOAD;
    this.maxConnections = options.maxConnections ?? 16;
    this.handshakeTimeoutMs = options.handshakeTimeoutMs ?? 10_000;
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** Serves one connection to its end, then closes the stream. Never rejects. */
  serve(stream: ByteStream): Promise<void> {
    if (this.stopping || this.connections.size >= this.maxConnections) {
      stream.close();
      return Promise.resolve();
    }
    const connection = this.run(stream).finally(() => {
      this.connections.delete(connection);
    });
    this.connections.add(connection);
    return connection;
  }

  /** Refuses new connections, answers what is in flight, ends every connection; resolves when they have ended. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.stopController.abort();
    for (const stream of this.negotiating) stream.close();
    await Promise.all([...this.connections]);
  }

  private async run(stream: ByteStream): Promise<void> {
    // A client that stalls the handshake (or the server stopping meanwhile) loses the connection.
    const timer = setTimeout(() => stream.close(), this.handshakeTimeoutMs);
    this.negotiating.add(stream);
    try {
      const session = await negotiate(stream, {
        export: this.export_,
        maxPayload: this.maxPayload,
        stopping: () => this.stopping,
      }).finally(() => {
        clearTimeout(timer);
        this.negotiating.delete(stream);
      });
      if (session === null) return;
      this.sessions++;
      await transmit(stream, session, this.stopController.signal, this.buffers);
    } catch {
      // The client broke the connection or the protocol: that connection ends, the server goes on.
    } finally {
      stream.close();
    }
  }
}
