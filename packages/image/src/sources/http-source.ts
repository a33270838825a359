// A read-only source over HTTP range requests (RFC 9110 section 14): stream a
// disk image from a server without downloading it. Uses the global fetch of
// browsers and Node 20, or one passed in.
import { VhdxError } from "@vhdx/structs";
import { checkBuffer, checkPosition, closedError } from "./source.js";
import { ReadOnlySource } from "./read-only-source.js";

export interface HttpSourceOptions {
  /** Extra request headers, e.g. authorization. */
  headers?: Record<string, string>;
  /** A fetch implementation; defaults to globalThis.fetch. */
  fetch?: typeof fetch;
}

export class HttpSource extends ReadOnlySource {
  readonly name: string;
  private readonly fetchImpl: typeof fetch;
  private knownSize: number | undefined;
  private closed = false;

  constructor(
    private readonly url: string,
    private readonly options: HttpSourceOptions = {},
  ) {
    super();
    if (typeof url !== "string") throw new TypeError("HttpSource: expected a URL string");
    const fetchImpl = options.fetch ?? globalThis.fetch;
    if (typeof fetchImpl !== "function") throw new TypeError("HttpSource: no fetch implementation available");
    this.fetchImpl = fetchImpl;
    this.name = url;
  }

  async size(): Promise<number> {
    if (this.closed) throw closedError(this.name);
    this.knownSize ??= await this.probeSize();
    return this.knownSize;
  }

  async read(buffer: Uint8Array, position: number): Promise<number> {
    if (this.closed) throw closedError(this.name);
    checkBuffer(buffer, "read");
    checkPosition(position, buffer.length, "read");
    const total = await this.size();
    if (buffer.length === 0 || position >= total) return 0;
    const end = Math.min(total, position + buffer.length);
    const response = await this.request(`bytes=${position}-${end - 1}`);
    if (response.status !== 206) {
      await response.body?.cancel();
      throw this.error("UNSUPPORTED", `expected 206 Partial Content for a range request, got ${response.status}`);
    }
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (bytes.length !== end - position) {
      throw this.error("IO_ERROR", `asked for ${end - position} bytes at ${position}, received ${bytes.length}`);
    }
    buffer.set(bytes);
    return bytes.length;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** The total length from `Content-Range` of a one-byte range request. */
  private async probeSize(): Promise<number> {
    const response = await this.request("bytes=0-0");
    await response.body?.cancel();
    if (response.status === 416) {
      const empty = /\*\/(\d+)/.exec(response.headers.get("content-range") ?? "");
      if (empty?.[1] === "0") return 0;
    }
    if (response.status !== 206) {
      throw this.error("UNSUPPORTED", `the server does not answer range requests (status ${response.status})`);
    }
    const match = /\/(\d+)\s*$/.exec(response.headers.get("content-range") ?? "");
    const total = match ? Number(match[1]) : NaN;
    if (!Number.isSafeInteger(total)) {
      throw this.error("UNSUPPORTED", "the server's Content-Range does not give the total length");
    }
    return total;
  }

  private async request(range: string): Promise<Response> {
    try {
      return await this.fetchImpl(this.url, { headers: { ...this.options.headers, range } });
    } catch (cause) {
      throw new VhdxError("IO_ERROR", `request for ${range} of ${this.url} failed: ${String(cause)}`, { cause });
    }
  }

  private error(code: "UNSUPPORTED" | "IO_ERROR", detail: string): VhdxError {
    return new VhdxError(code, `${this.url}: ${detail}`);
  }
}
