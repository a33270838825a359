// Shared by the http-*.test.ts files: the local range server with types, a
// fetch that shows a script only what a browser shows a cross-origin one, and
// counts of what the server answered.
import type { RangeServer } from "@vhdx-tools/range-server";
import { expect } from "vitest";
import { VhdxError } from "../src/index.js";

export { type RangeServer, startRangeServer } from "@vhdx-tools/range-server";

/** Requests and bytes the server answered since `requests` was last emptied, for one path or all. */
export function answered(server: RangeServer, path?: string): { requests: number; bytes: number } {
  const requests = server.requests.filter((request) => path === undefined || request.path === path);
  return { requests: requests.length, bytes: requests.reduce((sum, request) => sum + request.bytes, 0) };
}

// Response headers a browser always shows a cross-origin script (Fetch standard, CORS-safelisted).
const SAFELISTED = new Set([
  "cache-control",
  "content-language",
  "content-length",
  "content-type",
  "expires",
  "last-modified",
  "pragma",
]);

/**
 * fetch as a browser runs it for a page on another origin: a network error
 * without Access-Control-Allow-Origin, and only the safelisted headers and
 * those in Access-Control-Expose-Headers visible to the script.
 */
export const crossOriginFetch: typeof fetch = async (input, init) => {
  const response = await fetch(input, init);
  if (response.headers.get("access-control-allow-origin") === null) {
    await response.body?.cancel();
    throw new TypeError("Failed to fetch");
  }
  const exposed = (response.headers.get("access-control-expose-headers") ?? "")
    .split(",")
    .map((name) => name.trim().toLowerCase());
  const visible = new Headers();
  for (const [name, value] of response.headers) {
    if (SAFELISTED.has(name) || exposed.includes(name)) visible.set(name, value);
  }
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers: visible });
};

export async function expectCode(promise: Promise<unknown>, code: string): Promise<VhdxError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(VhdxError.isInstance(error), String(error)).toBe(true);
  expect((error as VhdxError).code, (error as VhdxError).message).toBe(code);
  return error as VhdxError;
}

/** Byte equality without vitest's element-by-element diff, which is slow on megabytes. */
export function expectSameBytes(actual: Uint8Array, expected: Uint8Array, what = "bytes"): void {
  expect(actual.length, what).toBe(expected.length);
  expect(Buffer.compare(actual, expected), what).toBe(0);
}
