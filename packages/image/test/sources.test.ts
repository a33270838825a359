import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { pbkdf2 } from "node:crypto";
import { type Server, createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BlobSource, HttpSource, MemorySource, type RandomAccessSource, VhdxError } from "../src/index.js";
import { FaultInjectingSource } from "../src/testing/index.js";
import { FileSource } from "../src/node/index.js";

const pattern = (length: number, seed = 1) => Uint8Array.from({ length }, (_, i) => (i * 7 + seed * 13) & 255);

async function readAll(source: RandomAccessSource, position: number, length: number) {
  const buffer = new Uint8Array(length);
  const count = await source.read(buffer, position);
  return buffer.subarray(0, count);
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<VhdxError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(VhdxError.isInstance(error), String(error)).toBe(true);
  expect((error as VhdxError).code).toBe(code);
  return error as VhdxError;
}

/** The behaviour every read-only source shares, over 5000 bytes of `pattern(5000)`. */
function describeReadableSource(name: string, make: () => Promise<RandomAccessSource>) {
  describe(`${name} reads`, () => {
    it("reads any range, short at the end, and nothing past it", async () => {
      const source = await make();
      const expected = pattern(5000);
      expect(await source.size()).toBe(5000);
      expect(await readAll(source, 0, 5000)).toEqual(expected);
      expect(await readAll(source, 1234, 100)).toEqual(expected.subarray(1234, 1334));
      expect(await readAll(source, 4990, 100)).toEqual(expected.subarray(4990));
      expect((await readAll(source, 5000, 10)).length).toBe(0);
      expect((await readAll(source, 9000, 10)).length).toBe(0);
      await source.close();
    });

    it("rejects bad positions as programming errors and refuses use after close", async () => {
      const source = await make();
      await expect(source.read(new Uint8Array(4), -1)).rejects.toThrow(RangeError);
      await expect(source.read(new Uint8Array(4), 1.5)).rejects.toThrow(RangeError);
      await source.close();
      await expectCode(source.read(new Uint8Array(4), 0), "CLOSED");
    });
  });
}

describe("MemorySource", () => {
  describeReadableSource("MemorySource", async () => new MemorySource(pattern(5000)));

  it("grows on writes past the end, zero-filling the gap, and truncates", async () => {
    const source = new MemorySource();
    await source.write(Uint8Array.of(1, 2, 3), 10);
    expect(await source.size()).toBe(13);
    expect(await readAll(source, 0, 13)).toEqual(Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3));
    await source.truncate(11);
    expect(await source.size()).toBe(11);
    await source.truncate(14);
    expect(await readAll(source, 10, 4)).toEqual(Uint8Array.of(1, 0, 0, 0));
  });

  it("refuses writes when read-only", async () => {
    const source = new MemorySource(pattern(10), { readOnly: true });
    await expectCode(source.write(Uint8Array.of(1), 0), "READ_ONLY");
    await expectCode(source.truncate(0), "READ_ONLY");
    await expectCode(source.flush(), "READ_ONLY");
  });
});

describe("BlobSource", () => {
  describeReadableSource("BlobSource", async () => new BlobSource(new Blob([pattern(5000)])));

  it("is read-only", async () => {
    const source = new BlobSource(new Blob([pattern(10)]));
    expect(source.readOnly).toBe(true);
    await expectCode(source.write(), "READ_ONLY");
  });
});

describe("FileSource", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "vhdx-sources-"));
    writeFileSync(join(dir, "pattern.bin"), pattern(5000));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  describeReadableSource("FileSource", () => FileSource.open(join(dir, "pattern.bin")));

  describeReadableSource("FileSource with blockingReadLimit", () =>
    FileSource.open(join(dir, "pattern.bin"), { blockingReadLimit: 4096 }),
  );

  it("makes reads up to blockingReadLimit on the calling thread, larger ones in the pool", async () => {
    const source = await FileSource.open(join(dir, "pattern.bin"), { blockingReadLimit: 4096 });
    // Every thread of the pool busy for a while: a read handed to it cannot finish before it is awaited.
    const threads = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
    const busy = Array.from({ length: threads }, () => promisify(pbkdf2)("x", "y", 200_000, 32, "sha256"));
    const small = new Uint8Array(4096);
    const reading = source.read(small, 100);
    // Filled before read() returned its promise: nothing was handed to another thread.
    expect(small).toEqual(pattern(5000).subarray(100, 4196));
    expect(await reading).toBe(4096);
    const large = new Uint8Array(4097);
    const readingLarge = source.read(large, 0);
    expect(large.every((byte) => byte === 0)).toBe(true);
    await Promise.all(busy);
    expect(await readingLarge).toBe(4097);
    expect(large).toEqual(pattern(5000).subarray(0, 4097));
    await source.close();
    await expectCode(source.read(small, 0), "CLOSED");
  });

  it("refuses a blockingReadLimit that is no whole number of bytes", async () => {
    for (const blockingReadLimit of [-1, 1.5, Number.NaN, "4096" as unknown as number])
      await expect(FileSource.open(join(dir, "pattern.bin"), { blockingReadLimit })).rejects.toThrow(TypeError);
  });

  it("never writes when read-only, and the file is unchanged", async () => {
    const source = await FileSource.open(join(dir, "pattern.bin"));
    await expectCode(source.write(Uint8Array.of(1), 0), "READ_ONLY");
    await source.close();
    expect(new Uint8Array(readFileSync(join(dir, "pattern.bin")))).toEqual(pattern(5000));
  });

  it("creates, writes, flushes and truncates a new file", async () => {
    const path = join(dir, "new.bin");
    const source = await FileSource.open(path, { create: true });
    await source.write(pattern(100, 2), 50);
    await source.flush();
    expect(await source.size()).toBe(150);
    await source.truncate(120);
    await source.close();
    const onDisk = new Uint8Array(readFileSync(path));
    expect(onDisk.length).toBe(120);
    expect(onDisk.subarray(50)).toEqual(pattern(100, 2).subarray(0, 70));
    await expectCode(FileSource.open(path, { create: true }), "IO_ERROR");
  });

  it("reports a missing file as IO_ERROR naming the path", async () => {
    await expect(FileSource.open(join(dir, "missing.vhdx"))).rejects.toThrow(/missing\.vhdx/);
  });
});

describe("HttpSource", () => {
  let server: Server;
  let base: string;
  const requests: string[] = [];
  const body = pattern(5000);

  beforeAll(async () => {
    server = createServer((request, response) => {
      requests.push(`${request.url} ${request.headers.range ?? "-"}`);
      if (request.url === "/no-ranges") {
        response.writeHead(200, { "content-length": body.length });
        response.end(body);
        return;
      }
      const status = /^\/status\/(\d+)$/.exec(request.url ?? "");
      if (status) return void response.writeHead(Number(status[1])).end();
      if (request.url === "/no-total") {
        // What a browser sees when CORS hides Content-Range, or a server gives no total.
        response.writeHead(206, { "content-range": "bytes 0-0/*" }).end(body.subarray(0, 1));
        return;
      }
      if (request.url === "/hidden-range") return void response.writeHead(206).end(body.subarray(0, 1));
      const match = /^bytes=(\d+)-(\d+)$/.exec(request.headers.range ?? "");
      if (!match) {
        response.writeHead(200).end(body);
        return;
      }
      const start = Number(match[1]);
      const end = Math.min(Number(match[2]), body.length - 1);
      if (start >= body.length) {
        response.writeHead(416, { "content-range": `bytes */${body.length}` }).end();
        return;
      }
      response.writeHead(206, { "content-range": `bytes ${start}-${end}/${body.length}` });
      response.end(body.subarray(start, end + 1));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    base = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  describeReadableSource("HttpSource", async () => new HttpSource(`${base}/disk.vhdx`));

  it("asks for exactly the bytes it needs with one range request per read", async () => {
    const source = new HttpSource(`${base}/exact`);
    await source.size();
    requests.length = 0;
    await readAll(source, 100, 50);
    expect(requests).toEqual(["/exact bytes=100-149"]);
  });

  it("sends the caller's headers", async () => {
    const seen: Record<string, string>[] = [];
    const fetchSpy: typeof fetch = async (input, init) => {
      seen.push(init?.headers as Record<string, string>);
      return fetch(input, init);
    };
    const source = new HttpSource(`${base}/auth`, { headers: { authorization: "Bearer x" }, fetch: fetchSpy });
    await readAll(source, 0, 10);
    expect(seen.every((headers) => headers.authorization === "Bearer x")).toBe(true);
  });

  it("refuses a server without range support as UNSUPPORTED, saying so", async () => {
    const error = await expectCode(new HttpSource(`${base}/no-ranges`).size(), "UNSUPPORTED");
    expect(error.message).toBe(
      `GET ${base}/no-ranges: 200 OK to a range request: the server does not support range requests`,
    );
  });

  it.each([
    [404, "Not Found"],
    [403, "Forbidden"],
    [410, "Gone"],
    [500, "Internal Server Error"],
    [503, "Service Unavailable"],
  ])("reports status %i as IO_ERROR naming it", async (status, text) => {
    const url = `${base}/status/${status}`;
    const error = await expectCode(new HttpSource(url).read(new Uint8Array(10), 0), "IO_ERROR");
    expect(error.message).toBe(`GET ${url}: ${status} ${text}`);
  });

  it.each(["/no-total", "/hidden-range"])(
    "says what a cross-origin server must expose when %s has no total",
    async (path) => {
      const error = await expectCode(new HttpSource(`${base}${path}`).size(), "UNSUPPORTED");
      expect(error.message).toMatch(/^GET .*: 206 Partial Content without a readable total length in Content-Range/);
      expect(error.message).toContain("Access-Control-Expose-Headers: Content-Range");
    },
  );

  it("learns the size from its first read, with no probe", async () => {
    const source = new HttpSource(`${base}/first`);
    requests.length = 0;
    expect(await readAll(source, 4990, 100)).toEqual(body.subarray(4990));
    expect(await source.size()).toBe(5000);
    expect((await readAll(source, 5000, 10)).length).toBe(0);
    expect(requests).toEqual(["/first bytes=4990-5089"]);
  });

  it("reads nothing past the end of a source it has not sized yet", async () => {
    expect((await readAll(new HttpSource(`${base}/past`), 6000, 10)).length).toBe(0);
  });

  describe("calls fetch without a receiver, as browsers require", () => {
    const nodeFetch = globalThis.fetch;
    // Like a browser's fetch: any receiver but the global object (or none) is an illegal invocation.
    const browserFetch = function (this: unknown, ...args: Parameters<typeof fetch>) {
      if (this !== undefined && this !== globalThis)
        throw new TypeError("Failed to execute 'fetch': Illegal invocation");
      return nodeFetch(...args);
    };
    afterAll(() => {
      globalThis.fetch = nodeFetch;
    });

    it("with the global fetch", async () => {
      globalThis.fetch = browserFetch as typeof fetch;
      const source = new HttpSource(`${base}/global`);
      globalThis.fetch = nodeFetch;
      expect(await readAll(source, 10, 5)).toEqual(body.subarray(10, 15));
    });

    it("with an unbound browser fetch passed in", async () => {
      const source = new HttpSource(`${base}/passed`, { fetch: browserFetch as typeof fetch });
      expect(await readAll(source, 10, 5)).toEqual(body.subarray(10, 15));
    });
  });

  it("reports an unreachable server as IO_ERROR", async () => {
    await expectCode(new HttpSource("http://127.0.0.1:1/none").size(), "IO_ERROR");
  });
});

describe("FaultInjectingSource", () => {
  it("keeps flushed writes and drops the rest on a power cut", async () => {
    const source = new FaultInjectingSource(new Uint8Array(16));
    await source.write(Uint8Array.of(1, 1), 0);
    await source.flush();
    await source.write(Uint8Array.of(2, 2), 4);
    expect(await readAll(source, 0, 6)).toEqual(Uint8Array.of(1, 1, 0, 0, 2, 2));
    const after = await source.powerCut("drop");
    expect(after.subarray(0, 6)).toEqual(Uint8Array.of(1, 1, 0, 0, 0, 0));
    await expectCode(source.read(new Uint8Array(1), 0), "IO_ERROR");
  });

  it("counts mutating operations and cuts the power at a chosen one", async () => {
    const workload = async (source: FaultInjectingSource) => {
      await source.write(Uint8Array.of(1), 0);
      await source.flush();
      await source.write(Uint8Array.of(2), 1);
      await source.flush();
    };
    const counter = new FaultInjectingSource(new Uint8Array(4));
    await workload(counter);
    expect(counter.operations).toBe(4);
    const outcomes = [];
    for (let cut = 0; cut <= 4; cut++) {
      const source = new FaultInjectingSource(new Uint8Array(4), { cutAfterOperations: cut });
      await workload(source).catch((e) => expect(VhdxError.isInstance(e)).toBe(true));
      outcomes.push([...(await source.powerCut("drop")).subarray(0, 2)]);
    }
    expect(outcomes).toEqual([
      [0, 0],
      [0, 0],
      [1, 0],
      [1, 0],
      [1, 2],
    ]);
  });

  it("fails one chosen operation and then carries on", async () => {
    const source = new FaultInjectingSource(new Uint8Array(4), { failOperation: 1 });
    await source.write(Uint8Array.of(1), 0);
    await expectCode(source.write(Uint8Array.of(2), 1), "IO_ERROR");
    await source.write(Uint8Array.of(3), 2);
    expect(await readAll(source, 0, 3)).toEqual(Uint8Array.of(1, 0, 3));
  });

  it("tears the last unflushed write at a sector boundary", async () => {
    const sizes = new Set<number>();
    for (let seed = 1; seed <= 20; seed++) {
      const source = new FaultInjectingSource(new Uint8Array(4096), { seed });
      await source.write(new Uint8Array(4096).fill(9), 0);
      const after = await source.powerCut("tear");
      const written = after.indexOf(0) === -1 ? 4096 : after.indexOf(0);
      expect(written % 512).toBe(0);
      expect(after.subarray(written).every((b) => b === 0)).toBe(true);
      sizes.add(written);
    }
    expect(sizes.size).toBeGreaterThan(2);
  });

  it("keeps a random subset of unflushed writes in keep-random mode", async () => {
    const kept = new Set<string>();
    for (let seed = 1; seed <= 20; seed++) {
      const source = new FaultInjectingSource(new Uint8Array(3), { seed });
      for (let i = 0; i < 3; i++) await source.write(Uint8Array.of(i + 1), i);
      kept.add([...(await source.powerCut("keep-random"))].join(","));
    }
    expect(kept.size).toBeGreaterThan(3);
  });
});
