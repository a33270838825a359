// Types of index.mjs, the range server, for TypeScript tests and benchmarks.

export interface RecordedRequest {
  method: string;
  path: string;
  range: string | null;
  /** The status answered (0 until the answer is finished). */
  status: number;
  /** Body bytes sent for a range or whole-file answer. */
  bytes: number;
}

export type Cors = "off" | "full" | "no-expose";
export type Body = string | Uint8Array;

export interface RangeServerOptions {
  /** URL path ("/disk.vhdx") to a file path or bytes, answered with range support. */
  files?: Record<string, Body>;
  /** URL path to a text body served whole, typed by its extension. */
  pages?: Record<string, string>;
  /** "full": any origin, Content-Range exposed; "no-expose": any origin, Content-Range hidden. */
  cors?: Cors;
  /** URL path to a status answered instead (404, 403, 500...). */
  statuses?: Record<string, number>;
  /** URL path to extra response headers. */
  headers?: Record<string, Record<string, string>>;
  /** Default 127.0.0.1; only loopback is allowed in tests. */
  host?: string;
}

export interface RangeServer {
  origin: string;
  url(path: string): string;
  requests: RecordedRequest[];
  setFile(path: string, body: Body): void;
  setPage(path: string, body: string): void;
  setStatus(path: string, status: number): void;
  close(): Promise<void>;
}

export declare function startRangeServer(options?: RangeServerOptions): Promise<RangeServer>;
