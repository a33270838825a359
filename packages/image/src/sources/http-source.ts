// A read-only source over HTTP range requests (RFC 9110 section 14): stream a
// disk image from a server without downloading it. Uses the global fetch of
// browsers and Node 20, or one passed in. The total length comes from the
// Content-Range of the first answer, so no request is spent on probing it.
import { VhdxError } from "@vhdx/structs";
import { checkBuffer, checkPosition, closedError } from "./source.js";
import { ReadOnlySource } from "./read-only-source.js";

export interface HttpSourceOptions {
  /** Extra request headers, e.g. authorization. */
  headers?: Record<string, string>;
  /** A fetch implementation; defaults to globalThis.fetch. */
  fetch?: typeof fetch;
}

/** The start and total length of a 206 answer, from `bytes <start>-<end>/<total>`. */
interface ContentRange {
  start: number;
  total: number;
}

// Browsers hide Content-Range from cross-origin scripts unless it is exposed.
const NO_TOTAL =
  "without a readable total length in Content-Range (bytes <first>-<last>/<total>); " +
  "a cross-origin server must also send Access-Control-Expose-Headers: Content-Range";

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
    if (this.knownSize === undefined) await this.read(new Uint8Array(1), 0);
    return this.knownSize!;
  }

  async read(buffer: Uint8Array, position: number): Promise<number> {
    if (this.closed) throw closedError(this.name);
    checkBuffer(buffer, "read");
    checkPosition(position, buffer.length, "read");
    const end = Math.min(this.knownSize ?? Number.MAX_SAFE_INTEGER, position + buffer.length);
    if (end <= position) return 0;
    const response = await this.request(`bytes=${position}-${end - 1}`);
    if (response.status === 416) {
      this.knownSize = await this.totalOfUnsatisfiable(response);
      return 0;
    }
    const range = await this.partialContent(response);
    this.knownSize = range.total;
    const bytes = new Uint8Array(await response.arrayBuffer());
    const expected = Math.min(end, range.total) - position;
    if (range.start !== position || bytes.length !== expected) {
      throw this.error(
        "IO_ERROR",
        `asked for ${expected} bytes at ${position}, received ${bytes.length} at ${range.start}`,
      );
    }
    buffer.set(bytes);
    return bytes.length;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** The range of a 206 answer; any other status is an error naming it. */
  private async partialContent(response: Response): Promise<ContentRange> {
    if (response.status === 206) {
      const range = /^bytes (\d+)-\d+\/(\d+)$/.exec(contentRange(response));
      if (range && Number.isSafeInteger(Number(range[2]))) return { start: Number(range[1]), total: Number(range[2]) };
    }
    await response.body?.cancel();
    if (response.status === 206) throw this.error("UNSUPPORTED", `206 Partial Content ${NO_TOTAL}`);
    if (response.status === 200) {
      throw this.error("UNSUPPORTED", "200 OK to a range request: the server does not support range requests");
    }
    throw this.error(response.status >= 400 ? "IO_ERROR" : "UNSUPPORTED", statusLine(response));
  }

  /** A 416 answer means the read starts at or past the end; its Content-Range gives the total length. */
  private async totalOfUnsatisfiable(response: Response): Promise<number> {
    await response.body?.cancel();
    const total = /^bytes \*\/(\d+)$/.exec(contentRange(response));
    if (total && Number.isSafeInteger(Number(total[1]))) return Number(total[1]);
    throw this.error("UNSUPPORTED", `416 Range Not Satisfiable ${NO_TOTAL}`);
  }

  private async request(range: string): Promise<Response> {
    // Called without a receiver: browsers' fetch throws "Illegal invocation"
    // when called as a method of any object but the global one.
    const fetchImpl = this.fetchImpl;
    try {
      return await fetchImpl(this.url, { headers: { ...this.options.headers, range } });
    } catch (cause) {
      throw new VhdxError("IO_ERROR", `request for ${range} of ${this.url} failed: ${String(cause)}`, { cause });
    }
  }

  private error(code: "UNSUPPORTED" | "IO_ERROR", detail: string): VhdxError {
    return new VhdxError(code, `GET ${this.url}: ${detail}`);
  }
}

function contentRange(response: Response): string {
  return response.headers.get("content-range")?.trim() ?? "";
}

function statusLine(response: Response): string {
  return `${response.status} ${response.statusText}`.trim();
}
