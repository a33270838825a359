// A node:net socket as the NBD server's ByteStream (nbd/byte-stream.ts).
// Received chunks queue until a read takes them; past HIGH_WATER bytes
// queued beyond what a read waits for, the socket is paused, so a client
// that sends faster than the server works costs bounded memory.
import type { Socket } from "node:net";
import { type ByteStream, StreamEnded } from "./nbd/byte-stream.js";

const HIGH_WATER = 4 * 1024 * 1024;
const CLOSE_GRACE_MS = 5000;

interface PendingRead {
  length: number;
  resolve(bytes: Uint8Array | null): void;
  reject(error: Error): void;
}

export function socketStream(socket: Socket): ByteStream {
  const chunks: Uint8Array[] = [];
  let queued = 0;
  let pending: PendingRead | null = null;
  let ended = false;
  let failure: Error | null = null;

  const take = (length: number): Uint8Array => {
    queued -= length;
    const first = chunks[0] as Uint8Array;
    if (first.length >= length) {
      const bytes = first.subarray(0, length);
      if (first.length === length) chunks.shift();
      else chunks[0] = first.subarray(length);
      return bytes;
    }
    const bytes = new Uint8Array(length);
    for (let at = 0; at < length; ) {
      const chunk = chunks[0] as Uint8Array;
      const part = Math.min(chunk.length, length - at);
      bytes.set(chunk.subarray(0, part), at);
      at += part;
      if (part === chunk.length) chunks.shift();
      else chunks[0] = chunk.subarray(part);
    }
    return bytes;
  };

  const settle = () => {
    if (pending === null) return;
    const read = pending;
    if (queued >= read.length) {
      pending = null;
      read.resolve(take(read.length));
    } else if (failure !== null || ended) {
      pending = null;
      if (failure !== null) read.reject(failure);
      else if (queued === 0) read.resolve(null);
      else read.reject(new StreamEnded());
    }
  };

  socket.on("data", (chunk: Buffer) => {
    chunks.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
    queued += chunk.length;
    settle();
    if (queued - (pending?.length ?? 0) > HIGH_WATER) socket.pause();
  });
  socket.on("end", () => {
    ended = true;
    settle();
  });
  socket.on("close", () => {
    ended = true;
    settle();
  });
  socket.on("error", (error) => {
    failure = error;
    settle();
  });

  return {
    read(length) {
      if (pending !== null) return Promise.reject(new Error("socketStream: one read at a time"));
      if (queued >= length) {
        const bytes = take(length);
        if (queued <= HIGH_WATER) socket.resume();
        return Promise.resolve(bytes);
      }
      return new Promise((resolve, reject) => {
        pending = { length, resolve, reject };
        socket.resume();
        settle();
      });
    },
    write(...parts) {
      if (socket.destroyed || socket.writableEnded) return Promise.reject(new StreamEnded("the connection is closed"));
      return new Promise((resolve, reject) => {
        // Corked, the parts of a reply (header, data) leave in one writev; the
        // last one's callback says all were sent (or failed).
        socket.cork();
        for (let i = 0; i < parts.length - 1; i++) socket.write(parts[i] as Uint8Array);
        socket.write(parts[parts.length - 1] as Uint8Array, (error) =>
          error ? reject(new StreamEnded(`the connection failed: ${error.message}`)) : resolve(),
        );
        socket.uncork();
      });
    },
    close() {
      if (socket.destroyed) return;
      // Replies already written still go out; then the connection is gone, whatever the client does.
      socket.end(() => socket.destroy());
      // A client that reads nothing more does not hold the connection open.
      setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
      ended = true;
      settle();
    },
  };
}
