// A read-only source over HTTP range requests (RFC 9110 section 14): stream a
// disk image from a server without downloading it. Uses the global fetch of
// browsers and Node 20, or one passed in. The total length comes from the
// Content-Range of the first answer, so no request is spent on probing it,
// and each answer's body is copied straight into the caller's buffer.
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
    readonly url: string,
    private readonly options: HttpSourceOptions = {},
  ) {
    super();
    if (typeof url !== "string") throw new TypeError("HttpSource: expected a URL string");
    const fetchImpl = options.fetch ?? globalThis.fetch;
    if (typeof fetchImpl !== "function") throw new TypeError("HttpSource: no fetch implementation available");
    this.fetchImpl = fetchImpl;
    this.name = url;
  }

  /**
   * A source for another URL through the same fetch: how a parent next to
   * this image is opened. The headers (credentials, often) go along only when
   * `url` has this source's origin.
   */
  forUrl(url: string): HttpSource {
    const sameOrigin = originOf(url) === originOf(this.url);
    return new HttpSource(url, {
      fetch: this.fetchImpl,
      ...(sameOrigin && this.options.headers ? { headers: this.options.headers } : {}),
    });
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
    const expected = Math.min(end, range.total) - position;
    const received = range.start === position ? await copyBody(response, buffer.subarray(0, expected)) : -1;
    if (received !== expected) {
      await response.body?.cancel().catch(() => undefined);
      const what = received < 0 ? `bytes from ${range.start}` : received > expected ? "more" : `${received} bytes`;
      throw this.error("IO_ERROR", `asked for ${expected} bytes at ${position}, received ${what}`);
    }
    return expected;
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
      // A browser reports a CORS refusal as a bare network error, so say what it may be.
      throw new VhdxError(
        "IO_ERROR",
        `request for ${range} of ${this.url} failed: ${String(cause)} (the server is unreachable, or, in a browser, ` +
          "a server on another origin that does not send Access-Control-Allow-Origin)",
        { cause },
      );
    }
  }

  private error(code: "UNSUPPORTED" | "IO_ERROR", detail: string): VhdxError {
    return new VhdxError(code, `GET ${this.url}: ${detail}`);
  }
}

/**
 * Copies the body into `target` as it arrives (no second copy of a large
 * answer); returns its length, or target.length + 1 when it is longer.
 */
async function copyBody(response: Response, target: Uint8Array): Promise<number> {
  if (response.body === null) {
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (bytes.length > target.length) return target.length + 1;
    target.set(bytes);
    return bytes.length;
  }
  const reader = response.body.getReader();
  let length = 0;
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
    if (length + chunk.value.length > target.length) {
      await reader.cancel();
      return target.length + 1;
    }
    target.set(chunk.value, length);
    length += chunk.value.length;
  }
  return length;
}

/** The URL made absolute: in a page, a relative one is relative to the page (as fetch takes it). */
export function absoluteUrl(url: string): URL | null {
  try {
    return new URL(url, (globalThis as { location?: { href?: string } }).location?.href);
  } catch {
    return null;
  }
}

function originOf(url: string): string | null {
  return absoluteUrl(url)?.origin ?? null;
}

function contentRange(response: Response): string {
  return response.headers.get("content-range")?.trim() ?? "";
}

function statusLine(response: Response): string {
  return `${response.status} ${response.statusText}`.trim();
}
