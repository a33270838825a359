// The fixed newstyle handshake (proto.md, "Handshake"): the server's
// greeting, the client's flags, then options until the client picks the
// export (NBD_OPT_GO or NBD_OPT_EXPORT_NAME), aborts, or breaks a rule.
// Lengths from the client are checked before anything is allocated: option
// data over MAX_OPTION_DATA is refused with NBD_REP_ERR_TOO_BIG and the
// connection closed; malformed option data gets NBD_REP_ERR_INVALID; an
// unknown option NBD_REP_ERR_UNSUP; anything that breaks the framing (a bad
// magic, unknown client flags) closes the connection at once.
import type { ByteStream } from "./byte-stream.js";
import {
  BASE_ALLOCATION,
  BASE_ALLOCATION_ID,
  FLAG_CAN_MULTI_CONN,
  FLAG_C_FIXED_NEWSTYLE,
  FLAG_C_NO_ZEROES,
  FLAG_FIXED_NEWSTYLE,
  FLAG_HAS_FLAGS,
  FLAG_NO_ZEROES,
  FLAG_READ_ONLY,
  FLAG_SEND_DF,
  FLAG_SEND_FLUSH,
  FLAG_SEND_FUA,
  FLAG_SEND_TRIM,
  FLAG_SEND_WRITE_ZEROES,
  IHAVEOPT,
  INFO_BLOCK_SIZE,
  INFO_DESCRIPTION,
  INFO_EXPORT,
  INFO_NAME,
  MAX_STRING,
  NBDMAGIC,
  OPTION_REPLY_MAGIC,
  OPT_ABORT,
  OPT_EXPORT_NAME,
  OPT_GO,
  OPT_INFO,
  OPT_LIST,
  OPT_LIST_META_CONTEXT,
  OPT_SET_META_CONTEXT,
  OPT_STRUCTURED_REPLY,
  REP_ACK,
  REP_ERR_INVALID,
  REP_ERR_SHUTDOWN,
  REP_ERR_TOO_BIG,
  REP_ERR_UNKNOWN,
  REP_ERR_UNSUP,
  REP_INFO,
  REP_META_CONTEXT,
  REP_SERVER,
} from "./constants.js";
import type { NbdExport } from "./export.js";
import { MessageWriter, decodeString, utf8, viewOf } from "./wire.js";

/** Option data longer than this is refused (the longest legal option, a few names and queries, is far shorter). */
const MAX_OPTION_DATA = 64 * 1024;

/** What the handshake agreed, for the transmission phase. */
export interface Session {
  export: NbdExport;
  /** NBD_OPT_STRUCTURED_REPLY was acknowledged. */
  structuredReplies: boolean;
  /** base:allocation was selected (NBD_OPT_SET_META_CONTEXT): BLOCK_STATUS may be used. */
  baseAllocation: boolean;
  /** The transmission flags the client was sent. */
  transmissionFlags: number;
  /** The most a READ or WRITE may carry. */
  maxPayload: number;
}

export interface HandshakeContext {
  export: NbdExport;
  maxPayload: number;
  /** The server is shutting down: options are answered NBD_REP_ERR_SHUTDOWN. */
  stopping(): boolean;
}

/** The transmission flags of `exp`: what this server supports, and MULTI_CONN (see export.ts). */
function transmissionFlags(exp: NbdExport, structuredReplies: boolean): number {
  let flags = FLAG_HAS_FLAGS | FLAG_SEND_FLUSH | FLAG_CAN_MULTI_CONN;
  if (exp.readOnly) flags |= FLAG_READ_ONLY;
  else flags |= FLAG_SEND_FUA | FLAG_SEND_TRIM | FLAG_SEND_WRITE_ZEROES;
  if (structuredReplies) flags |= FLAG_SEND_DF;
  return flags;
}

/**
 * Runs the handshake on `stream`. The session when the client entered
 * transmission; null when the connection is over (the client aborted or
 * left, or broke the framing; the stream is then to be closed).
 */
export async function negotiate(stream: ByteStream, context: HandshakeContext): Promise<Session | null> {
  await stream.write(
    new MessageWriter(18)
      .u64(NBDMAGIC)
      .u64(IHAVEOPT)
      .u16(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES).bytes,
  );
  const clientFlags = await stream.read(4);
  if (clientFlags === null) return null;
  const flags = viewOf(clientFlags).getUint32(0);
  if ((flags & ~(FLAG_C_FIXED_NEWSTYLE | FLAG_C_NO_ZEROES)) !== 0) return null;
  const options = new OptionHaggling(stream, context, (flags & FLAG_C_NO_ZEROES) !== 0);
  for (;;) {
    const outcome = await options.next();
    if (outcome !== "continue") return outcome;
  }
}

class OptionHaggling {
  private structuredReplies = false;
  private baseAllocation = false;

  constructor(
    private readonly stream: ByteStream,
    private readonly context: HandshakeContext,
    private readonly noZeroes: boolean,
  ) {}

  /** Reads and answers one option. */
  async next(): Promise<Session | null | "continue"> {
    const header = await this.stream.read(16);
    if (header === null) return null;
    const view = viewOf(header);
    if (view.getBigUint64(0) !== IHAVEOPT) return null;
    const option = view.getUint32(8);
    const length = view.getUint32(12);
    if (length > MAX_OPTION_DATA) {
      if (option !== OPT_EXPORT_NAME) await this.reply(option, REP_ERR_TOO_BIG);
      return null;
    }
    const data = length === 0 ? new Uint8Array(0) : await this.stream.read(length);
    if (data === null) return null;
    if (option === OPT_ABORT) {
      await this.reply(option, REP_ACK);
      return null;
    }
    if (this.context.stopping()) {
      if (option !== OPT_EXPORT_NAME) await this.reply(option, REP_ERR_SHUTDOWN);
      return option === OPT_EXPORT_NAME ? null : "continue";
    }
    return this.answer(option, data);
  }

  private async answer(option: number, data: Uint8Array): Promise<Session | null | "continue"> {
    switch (option) {
      case OPT_EXPORT_NAME:
        return this.exportName(data);
      case OPT_LIST:
        await this.list(data);
        return "continue";
      case OPT_INFO:
      case OPT_GO:
        return this.info(option, data);
      case OPT_STRUCTURED_REPLY:
        if (data.length !== 0) return this.invalid(option);
        this.structuredReplies = true;
        await this.reply(option, REP_ACK);
        return "continue";
      case OPT_LIST_META_CONTEXT:
      case OPT_SET_META_CONTEXT:
        await this.metaContext(option, data);
        return "continue";
      default:
        await this.reply(option, REP_ERR_UNSUP);
        return "continue";
    }
  }

  /** NBD_OPT_EXPORT_NAME: no reply but the export's size and flags; an unknown name ends the connection. */
  private async exportName(data: Uint8Array): Promise<Session | null> {
    const name = data.length > MAX_STRING ? null : decodeString(data);
    if (name === null || !this.knows(name)) return null;
    const session = this.session();
    const reply = new MessageWriter(this.noZeroes ? 10 : 134).u64(session.export.size).u16(session.transmissionFlags);
    await this.stream.write(reply.bytes);
    return session;
  }

  private async list(data: Uint8Array): Promise<void> {
    if (data.length !== 0) return void (await this.invalid(OPT_LIST));
    const name = utf8(this.context.export.name);
    await this.reply(OPT_LIST, REP_SERVER, new MessageWriter(4 + name.length).u32(name.length).raw(name).bytes);
    await this.reply(OPT_LIST, REP_ACK);
  }

  /** NBD_OPT_INFO and NBD_OPT_GO: name length, name, count of info requests, the requests (16 bits each). */
  private async info(option: number, data: Uint8Array): Promise<Session | null | "continue"> {
    const view = viewOf(data);
    const nameLength = data.length >= 4 ? view.getUint32(0) : -1;
    if (nameLength < 0 || nameLength > MAX_STRING || data.length < 4 + nameLength + 2) return this.invalid(option);
    const requestCount = view.getUint16(4 + nameLength);
    if (data.length !== 4 + nameLength + 2 + 2 * requestCount) return this.invalid(option);
    const name = decodeString(data.subarray(4, 4 + nameLength));
    if (name === null) return this.invalid(option);
    if (!this.knows(name)) {
      await this.reply(option, REP_ERR_UNKNOWN);
      return "continue";
    }
    const requested = new Set<number>();
    for (let i = 0; i < requestCount; i++) requested.add(view.getUint16(4 + nameLength + 2 + 2 * i));
    const session = this.session();
    const exp = session.export;
    await this.reply(
      option,
      REP_INFO,
      new MessageWriter(12).u16(INFO_EXPORT).u64(exp.size).u16(session.transmissionFlags).bytes,
    );
    // Block sizes are sent unasked too (the protocol allows it), so every client learns the maximum payload.
    await this.reply(
      option,
      REP_INFO,
      new MessageWriter(14)
        .u16(INFO_BLOCK_SIZE)
        .u32(exp.minimumBlockSize)
        .u32(exp.preferredBlockSize)
        .u32(session.maxPayload).bytes,
    );
    if (requested.has(INFO_NAME)) await this.reply(option, REP_INFO, infoString(INFO_NAME, exp.name));
    if (requested.has(INFO_DESCRIPTION) && exp.description !== "")
      await this.reply(option, REP_INFO, infoString(INFO_DESCRIPTION, exp.description));
    await this.reply(option, REP_ACK);
    return option === OPT_GO ? session : "continue";
  }

  /**
   * NBD_OPT_LIST_META_CONTEXT and NBD_OPT_SET_META_CONTEXT: name length,
   * name, query count, queries (length, text). base:allocation is the only
   * context; SET replaces the selection.
   */
  private async metaContext(option: number, data: Uint8Array): Promise<void> {
    if (!this.structuredReplies) return void (await this.invalid(option));
    const queries = parseContextRequest(data);
    if (queries === null) return void (await this.invalid(option));
    if (!this.knows(queries.name)) return void (await this.reply(option, REP_ERR_UNKNOWN));
    const listing = option === OPT_LIST_META_CONTEXT;
    const matches = queries.queries.some((query) =>
      listing ? query === "base:" || query === BASE_ALLOCATION : query === BASE_ALLOCATION,
    );
    const selected = matches || (listing && queries.queries.length === 0);
    if (!listing) this.baseAllocation = selected;
    if (selected) {
      const text = utf8(BASE_ALLOCATION);
      const id = listing ? 0 : BASE_ALLOCATION_ID;
      await this.reply(option, REP_META_CONTEXT, new MessageWriter(4 + text.length).u32(id).raw(text).bytes);
    }
    await this.reply(option, REP_ACK);
  }

  /** The export is the one given, or the default export "". */
  private knows(name: string): boolean {
    return name === "" || name === this.context.export.name;
  }

  private session(): Session {
    const exp = this.context.export;
    return {
      export: exp,
      structuredReplies: this.structuredReplies,
      baseAllocation: this.baseAllocation && this.structuredReplies,
      transmissionFlags: transmissionFlags(exp, this.structuredReplies),
      maxPayload: this.context.maxPayload,
    };
  }

  private async invalid(option: number): Promise<"continue"> {
    await this.reply(option, REP_ERR_INVALID);
    return "continue";
  }

  private reply(option: number, type: number, data: Uint8Array = new Uint8Array(0)): Promise<void> {
    const header = new MessageWriter(20).u64(OPTION_REPLY_MAGIC).u32(option).u32(type).u32(data.length).bytes;
    return data.length === 0 ? this.stream.write(header) : this.stream.write(header, data);
  }
}

function infoString(type: number, text: string): Uint8Array {
  const bytes = utf8(text);
  return new MessageWriter(2 + bytes.length).u16(type).raw(bytes).bytes;
}

/** The export name and the queries of a meta context option, or null when the data is malformed. */
function parseContextRequest(data: Uint8Array): { name: string; queries: string[] } | null {
  const view = viewOf(data);
  if (data.length < 8) return null;
  const nameLength = view.getUint32(0);
  if (nameLength > MAX_STRING || data.length < 4 + nameLength + 4) return null;
  const name = decodeString(data.subarray(4, 4 + nameLength));
  const count = view.getUint32(4 + nameLength);
  const queries: string[] = [];
  let at = 8 + nameLength;
  for (let i = 0; i < count; i++) {
    if (at + 4 > data.length) return null;
    const length = view.getUint32(at);
    if (length > MAX_STRING || at + 4 + length > data.length) return null;
    const query = decodeString(data.subarray(at + 4, at + 4 + length));
    if (query === null) return null;
    queries.push(query);
    at += 4 + length;
  }
  return name === null || at !== data.length ? null : { name, queries };
}
