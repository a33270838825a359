// The transmission phase (proto.md, "Transmission"): requests are read one
// after another and run at once, up to MAX_IN_FLIGHT of them and
// IN_FLIGHT_BYTES of payload per connection; their replies go out as they
// finish, so out of order (the protocol allows it; each reply is written
// whole). A request is checked before anything is done for it, and before
// its payload is taken in: a WRITE longer than the maximum payload cannot be
// skipped, so it ends the connection; every other refusal is an error reply
// and nothing of the request is written.
import { type ByteStream, StreamEnded } from "./byte-stream.js";
import {
  BASE_ALLOCATION_ID,
  CMD_BLOCK_STATUS,
  CMD_DISC,
  CMD_FLAG_DF,
  CMD_FLAG_FUA,
  CMD_FLAG_NO_HOLE,
  CMD_FLAG_REQ_ONE,
  CMD_FLUSH,
  CMD_READ,
  CMD_TRIM,
  CMD_WRITE,
  CMD_WRITE_ZEROES,
  EINVAL,
  ENOSPC,
  EOVERFLOW,
  EPERM,
  REPLY_FLAG_DONE,
  REPLY_TYPE_BLOCK_STATUS,
  REPLY_TYPE_ERROR,
  REPLY_TYPE_NONE,
  REPLY_TYPE_OFFSET_DATA,
  REQUEST_MAGIC,
  REQUEST_SIZE,
  SIMPLE_REPLY_MAGIC,
  STRUCTURED_REPLY_MAGIC,
} from "./constants.js";
import type { BufferPool } from "./buffer-pool.js";
import { errorValue } from "./export.js";
import type { Session } from "./handshake.js";
import { MessageWriter, viewOf } from "./wire.js";

/** Requests of one connection running at once. */
const MAX_IN_FLIGHT = 16;
/** Descriptors in one BLOCK_STATUS reply (the client asks again for the rest). */
const MAX_STATUS_RUNS = 1024;

/** The flags each command accepts (any other bit is refused with EINVAL). */
const ALLOWED_FLAGS: Record<number, number> = {
  [CMD_READ]: CMD_FLAG_DF,
  [CMD_WRITE]: CMD_FLAG_FUA,
  [CMD_DISC]: 0,
  [CMD_FLUSH]: 0,
  [CMD_TRIM]: CMD_FLAG_FUA,
  [CMD_WRITE_ZEROES]: CMD_FLAG_FUA | CMD_FLAG_NO_HOLE,
  [CMD_BLOCK_STATUS]: CMD_FLAG_REQ_ONE,
};

const WRITING = new Set([CMD_WRITE, CMD_TRIM, CMD_WRITE_ZEROES]);

interface Request {
  flags: number;
  type: number;
  /** The client's 8-byte handle, echoed in the reply. */
  handle: Uint8Array;
  /** May exceed Number.MAX_SAFE_INTEGER (then it is past the end anyway). */
  offset: bigint;
  length: number;
  payload: Uint8Array | null;
}

/** Payload bytes of one connection's requests in flight: two of the largest at once. */
function inFlightBudget(session: Session): number {
  return 2 * session.maxPayload;
}

/**
 * Serves requests until the client disconnects (NBD_CMD_DISC or the end of
 * the stream), breaks the framing, or `stop` aborts; then waits for the
 * requests in flight to be answered. The caller closes the stream.
 */
export async function transmit(
  stream: ByteStream,
  session: Session,
  stop: AbortSignal,
  buffers: BufferPool,
): Promise<void> {
  const connection = new Transmission(stream, session, buffers);
  const onStop = () => connection.stop();
  stop.addEventListener("abort", onStop);
  if (stop.aborted) connection.stop();
  try {
    await connection.readRequests();
  } finally {
    stop.removeEventListener("abort", onStop);
    await connection.drained();
  }
}

class Transmission {
  private inFlight = 0;
  private inFlightBytes = 0;
  /** Wakes readRequests when a request finished, or the server stops. */
  private wake: (() => void) | null = null;
  private idle: (() => void) | null = null;
  private broken = false;
  private stopped = false;
  /** Ends the read under way (with null) when the server stops. */
  private cancelRead: (() => void) | null = null;

  constructor(
    private readonly stream: ByteStream,
    private readonly session: Session,
    private readonly buffers: BufferPool,
  ) {}

  stop(): void {
    this.stopped = true;
    this.cancelRead?.();
    this.wake?.();
  }

  async readRequests(): Promise<void> {
    for (;;) {
      await this.roomFor(0);
      const request = await this.readRequest();
      if (request === null || request.type === CMD_DISC) return;
      this.start(request, this.refusal(request));
    }
  }

  /** Resolves when every request in flight was answered. */
  drained(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.idle = resolve;
    });
  }

  /** The next request with its payload, or null when the connection is to end. */
  private async readRequest(): Promise<Request | null> {
    const header = await this.untilStopped(this.stream.read(REQUEST_SIZE));
    if (header === null) return null;
    const view = viewOf(header);
    if (view.getUint32(0) !== REQUEST_MAGIC) return null;
    const request: Request = {
      flags: view.getUint16(4),
      type: view.getUint16(6),
      handle: header.slice(8, 16),
      offset: view.getBigUint64(16),
      length: view.getUint32(24),
      payload: null,
    };
    if (request.type !== CMD_WRITE) return request;
    if (request.length > this.session.maxPayload) {
      // Its payload cannot be skipped without taking it in: say why, then hang up.
      await this.reply(request, this.session.structuredReplies ? EOVERFLOW : EINVAL);
      return null;
    }
    await this.roomFor(request.length);
    request.payload = await this.untilStopped(this.stream.read(request.length));
    return request.payload === null ? null : request;
  }

  /** Waits until a request of `bytes` payload may start: fewer than MAX_IN_FLIGHT running and the budget not spent. */
  private async roomFor(bytes: number): Promise<void> {
    const budget = inFlightBudget(this.session);
    while (
      !this.broken &&
      !this.stopped &&
      (this.inFlight >= MAX_IN_FLIGHT || (this.inFlight > 0 && this.inFlightBytes + bytes > budget))
    ) {
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = null;
    }
  }

  /** `read`'s result, or null once the server stops or the stream failed; a stream that ended part way is null too. */
  private async untilStopped(read: Promise<Uint8Array | null>): Promise<Uint8Array | null> {
    if (this.stopped || this.broken) return null;
    // A read cut short by stop() still ends (when the stream is closed): not an unhandled rejection.
    read.catch(() => {});
    try {
      // Not Promise.race with one promise of the connection's life: each race would leave it a reaction, for ever.
      return await new Promise<Uint8Array | null>((resolve, reject) => {
        this.cancelRead = () => resolve(null);
        read.then(resolve, reject);
      });
    } catch (error) {
      if (error instanceof StreamEnded) return null;
      throw error;
    } finally {
      this.cancelRead = null;
    }
  }

  /** The error value a request is refused with, or 0 when it may run. */
  private refusal({ type, flags, offset, length }: Request): number {
    const allowed = ALLOWED_FLAGS[type];
    if (allowed === undefined || (flags & ~allowed) !== 0) return EINVAL;
    const exp = this.session.export;
    if (WRITING.has(type) && exp.readOnly) return EPERM;
    if (type === CMD_READ && length > this.session.maxPayload)
      return this.session.structuredReplies ? EOVERFLOW : EINVAL;
    if (type === CMD_BLOCK_STATUS && (!this.session.baseAllocation || length === 0)) return EINVAL;
    if (type === CMD_FLUSH) return 0;
    if (offset + BigInt(length) > BigInt(exp.size))
      return type === CMD_WRITE || type === CMD_WRITE_ZEROES ? ENOSPC : EINVAL;
    return 0;
  }

  private start(request: Request, refusal: number): void {
    const cost = request.type === CMD_READ && refusal === 0 ? request.length : (request.payload?.length ?? 0);
    this.inFlight++;
    this.inFlightBytes += cost;
    const done = () => {
      this.inFlight--;
      this.inFlightBytes -= cost;
      this.wake?.();
      if (this.inFlight === 0) this.idle?.();
    };
    (refusal === 0 ? this.run(request) : this.reply(request, refusal)).then(done, (error) => {
      // Only a failed reply (the client went away) gets here: stop reading too.
      this.broken = true;
      this.stream.close();
      done();
      void error;
    });
  }

  /** Runs a checked request and answers it; an error of the export is answered with its error value. */
  private async run(request: Request): Promise<void> {
    const exp = this.session.export;
    const offset = Number(request.offset);
    const { length } = request;
    let status = 0;
    try {
      switch (request.type) {
        case CMD_READ:
          return await this.read(request, offset);
        case CMD_BLOCK_STATUS:
          return await this.blockStatus(request, offset);
        case CMD_WRITE:
          await exp.write(offset, request.payload as Uint8Array);
          break;
        case CMD_WRITE_ZEROES:
          await exp.writeZeroes(offset, length, (request.flags & CMD_FLAG_NO_HOLE) !== 0);
          break;
        case CMD_TRIM:
          await exp.trim(offset, length);
          break;
        case CMD_FLUSH:
          await exp.flush();
          break;
      }
      if ((request.flags & CMD_FLAG_FUA) !== 0) await exp.flush();
    } catch (error) {
      status = errorValue(error);
    }
    await this.reply(request, status);
  }

  private async read(request: Request, offset: number): Promise<void> {
    const data = this.buffers.take(request.length);
    try {
      await this.session.export.readInto(data, offset);
    } catch (error) {
      this.buffers.give(data);
      return this.reply(request, errorValue(error));
    }
    if (!this.session.structuredReplies) await this.stream.write(simpleReply(request.handle, 0), data);
    else if (data.length === 0) await this.stream.write(chunkHeader(REPLY_TYPE_NONE, request.handle, 0));
    else {
      const header = chunkHeader(REPLY_TYPE_OFFSET_DATA, request.handle, 8 + data.length);
      await this.stream.write(header, new MessageWriter(8).u64(offset).bytes, data);
    }
    // Sent: the buffer may serve another request (not when the write failed: then it may still be queued).
    this.buffers.give(data);
  }

  private async blockStatus(request: Request, offset: number): Promise<void> {
    const maxRuns = (request.flags & CMD_FLAG_REQ_ONE) !== 0 ? 1 : MAX_STATUS_RUNS;
    let runs: Awaited<ReturnType<Session["export"]["allocation"]>>;
    try {
      runs = await this.session.export.allocation(offset, request.length, maxRuns);
    } catch (error) {
      return this.reply(request, errorValue(error));
    }
    const payload = new MessageWriter(4 + 8 * runs.length).u32(BASE_ALLOCATION_ID);
    for (const run of runs) payload.u32(run.length).u32(run.flags);
    return this.stream.write(chunkHeader(REPLY_TYPE_BLOCK_STATUS, request.handle, payload.bytes.length), payload.bytes);
  }

  /** A reply without data: success, or an error (an error chunk for a READ under structured replies). */
  private reply(request: Request, error: number): Promise<void> {
    if (error !== 0 && this.session.structuredReplies && request.type === CMD_READ) {
      const payload = new MessageWriter(6).u32(error).u16(0).bytes;
      return this.stream.write(chunkHeader(REPLY_TYPE_ERROR, request.handle, payload.length), payload);
    }
    return this.stream.write(simpleReply(request.handle, error));
  }
}

function simpleReply(handle: Uint8Array, error: number): Uint8Array {
  return new MessageWriter(16).u32(SIMPLE_REPLY_MAGIC).u32(error).raw(handle).bytes;
}

/** The header of a structured reply chunk that is the last of its reply. */
function chunkHeader(type: number, handle: Uint8Array, length: number): Uint8Array {
  return new MessageWriter(20).u32(STRUCTURED_REPLY_MAGIC).u16(REPLY_FLAG_DONE).u16(type).raw(handle).u32(length).bytes;
}
