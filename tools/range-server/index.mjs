// A small HTTP/1.1 server on 127.0.0.1 that answers range requests (RFC 9110
// section 14) for files or byte arrays, optionally with CORS, and records every
// request so tests and benchmarks can count requests and bytes.
import { open, stat } from "node:fs/promises";
import { createServer } from "node:http";

/**
 * @typedef {object} RangeServerOptions
 * @property {Record<string, string | Uint8Array>} [files] URL path ("/disk.vhdx") to a file path or bytes.
 * @property {Record<string, string>} [pages] URL path to a text body served whole (HTML, scripts), by extension type.
 * @property {"off" | "full" | "no-expose"} [cors] "full": Access-Control-Allow-Origin: * and exposes
 *   Content-Range; "no-expose": allows the origin but hides Content-Range (a common misconfiguration).
 * @property {Record<string, number>} [statuses] URL path to a status to answer instead (404, 403, 500...).
 * @property {Record<string, Record<string, string>>} [headers] URL path to extra response headers
 *   (a Content-Security-Policy for a page, ...).
 * @property {string} [host] Default 127.0.0.1; only loopback is allowed in tests.
 */

/** @typedef {{ method: string, path: string, range: string | null, status: number, bytes: number }} RecordedRequest */

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript",
  ".mjs": "text/javascript",
  ".css": "text/css",
};

/** @param {RangeServerOptions} options */
export async function startRangeServer(options = {}) {
  const files = new Map(Object.entries(options.files ?? {}));
  const pages = new Map(Object.entries(options.pages ?? {}));
  const statuses = new Map(Object.entries(options.statuses ?? {}));
  const extraHeaders = new Map(Object.entries(options.headers ?? {}));
  /** @type {RecordedRequest[]} */
  const requests = [];
  const server = createServer((request, response) => {
    const path = decodeURIComponent(new URL(request.url ?? "/", "http://x").pathname);
    const record = { method: request.method ?? "GET", path, range: request.headers.range ?? null, status: 0, bytes: 0 };
    requests.push(record);
    response.on("finish", () => {
      record.status = response.statusCode;
    });
    answer(request, response, path, record).catch((error) => {
      if (!response.headersSent) response.writeHead(500);
      response.end(String(error));
    });
  });

  /** @param {import("node:http").IncomingMessage} request @param {import("node:http").ServerResponse} response */
  async function answer(request, response, path, record) {
    setCors(response, options.cors ?? "off");
    for (const [name, value] of Object.entries(extraHeaders.get(path) ?? {})) response.setHeader(name, value);
    if (request.method === "OPTIONS") {
      response.writeHead(204, {
        "access-control-allow-headers": "range, authorization",
        "access-control-max-age": "600",
      });
      return response.end();
    }
    const forced = statuses.get(path);
    if (forced !== undefined) {
      response.writeHead(forced);
      return response.end();
    }
    const page = pages.get(path);
    if (page !== undefined) {
      const type = TYPES[path.slice(path.lastIndexOf("."))] ?? "application/octet-stream";
      response.writeHead(200, { "content-type": type, "cache-control": "no-store" });
      return response.end(page);
    }
    const body = files.get(path);
    if (body === undefined) {
      response.writeHead(404);
      return response.end();
    }
    const size = typeof body === "string" ? (await stat(body)).size : body.length;
    const range = parseRange(request.headers.range, size);
    const headers = {
      "accept-ranges": "bytes",
      "content-type": "application/octet-stream",
      "cache-control": "no-store",
    };
    if (range === "unsatisfiable") {
      response.writeHead(416, { ...headers, "content-range": `bytes */${size}` });
      return response.end();
    }
    const [start, end] = range ?? [0, size];
    response.writeHead(range ? 206 : 200, {
      ...headers,
      "content-length": String(end - start),
      ...(range ? { "content-range": `bytes ${start}-${end - 1}/${size}` } : {}),
    });
    record.bytes = end - start;
    if (request.method === "HEAD") return response.end();
    response.end(await slice(body, start, end));
  }

  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, options.host ?? "127.0.0.1", () => resolve(undefined));
  });
  const address = server.address();
  const origin = `http://${options.host ?? "127.0.0.1"}:${typeof address === "object" && address ? address.port : 0}`;
  return {
    origin,
    /** The absolute URL of a path on this server. */
    url: (/** @type {string} */ path) => `${origin}${path}`,
    requests,
    /** Adds or replaces a file, a page or a forced status while running. */
    setFile: (/** @type {string} */ path, /** @type {string | Uint8Array} */ body) => files.set(path, body),
    setPage: (/** @type {string} */ path, /** @type {string} */ body) => pages.set(path, body),
    setStatus: (/** @type {string} */ path, /** @type {number} */ status) => statuses.set(path, status),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve(undefined));
      }),
  };
}

/** @returns {[number, number] | "unsatisfiable" | null} half-open [start, end), or null for no (or an ignorable) Range header. */
function parseRange(header, size) {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header?.trim() ?? "");
  if (!match || (match[1] === "" && match[2] === "")) return null;
  if (match[1] === "") {
    const suffix = Math.min(Number(match[2]), size);
    return suffix === 0 ? "unsatisfiable" : [size - suffix, size];
  }
  const start = Number(match[1]);
  if (start >= size) return "unsatisfiable";
  const last = match[2] === "" ? size - 1 : Math.min(Number(match[2]), size - 1);
  return last < start ? null : [start, last + 1];
}

function setCors(response, cors) {
  if (cors === "off") return;
  response.setHeader("access-control-allow-origin", "*");
  if (cors === "full")
    response.setHeader("access-control-expose-headers", "content-range, content-length, accept-ranges");
}

async function slice(body, start, end) {
  if (typeof body !== "string") return body.subarray(start, end);
  const handle = await open(body, "r");
  try {
    const buffer = Buffer.alloc(end - start);
    await handle.read(buffer, 0, buffer.length, start);
    return buffer;
  } finally {
    await handle.close();
  }
}
