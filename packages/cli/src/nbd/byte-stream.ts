// The one thing the NBD server needs of a connection: a duplex byte stream.
// The protocol code uses nothing else (no Node APIs), so it runs over a
// socket (serve's socket-stream.ts), or an in-memory pair in the tests.

export interface ByteStream {
  /**
   * Exactly `length` bytes, in a new view the caller may keep. Resolves
   * null when the peer ended the stream cleanly before the first of them;
   * rejects when it ended (or failed) part way.
   */
  read(length: number): Promise<Uint8Array | null>;
  /**
   * Writes `chunks` back to back (no other write between them); resolves
   * when they are sent (the caller may then reuse them). Rejects once the
   * stream has failed or closed.
   */
  write(...chunks: Uint8Array[]): Promise<void>;
  /** Sends what was written, then ends the connection; pending reads end. */
  close(): void;
}

/** The peer ended the stream part way through a message. */
export class StreamEnded extends Error {
  constructor(message = "the connection ended part way through a message") {
    super(message);
    this.name = "StreamEnded";
  }
}
