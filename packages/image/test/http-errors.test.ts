// HttpSource against the local range server, as a page or a script meets
// it: each failing answer names the HTTP status, and a cross-origin answer
// that hides Content-Range names the header the server must expose.
import { STATE, buildVhdx } from "@vhdx-tools/fixtures";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpSource, openImage } from "../src/index.js";
import { type RangeServer, crossOriginFetch, expectCode, expectSameBytes, startRangeServer } from "./http-helpers.js";

const MiB = 1 << 20;
const disk = buildVhdx({
  virtualSize: 4 * MiB,
  blockSize: MiB,
  type: "dynamic",
  blocks: { 1: { state: STATE.FULLY_PRESENT } },
});

describe("statuses", () => {
  let server: RangeServer;
  beforeAll(async () => {
    server = await startRangeServer({
      files: { "/disk.vhdx": disk.bytes },
      statuses: { "/forbidden.vhdx": 403, "/broken.vhdx": 500, "/busy.vhdx": 503, "/gone.vhdx": 410 },
    });
  });
  afterAll(() => server.close());

  it.each([
    ["/missing.vhdx", "404 Not Found"],
    ["/forbidden.vhdx", "403 Forbidden"],
    ["/gone.vhdx", "410 Gone"],
    ["/broken.vhdx", "500 Internal Server Error"],
    ["/busy.vhdx", "503 Service Unavailable"],
  ])("opening %s fails with IO_ERROR naming %s and the URL", async (path, status) => {
    const error = await expectCode(openImage(new HttpSource(server.url(path))), "IO_ERROR");
    expect(error.message).toContain(`GET ${server.url(path)}: ${status}`);
    expect(error.message).not.toContain("range requests");
  });

  it("opens and reads the served image", async () => {
    const image = await openImage(new HttpSource(server.url("/disk.vhdx")));
    expectSameBytes(await image.read(MiB, MiB), disk.expectedAt(MiB, MiB));
    await image.close();
  });
});

describe("CORS, as a browser shows a cross-origin answer", () => {
  const servers: RangeServer[] = [];
  const serve = async (cors: "off" | "full" | "no-expose") => {
    const server = await startRangeServer({ files: { "/disk.vhdx": disk.bytes }, cors });
    servers.push(server);
    return new HttpSource(server.url("/disk.vhdx"), { fetch: crossOriginFetch });
  };
  afterAll(() => Promise.all(servers.map((server) => server.close())));

  it("reads through a server that allows the origin and exposes Content-Range", async () => {
    const image = await openImage(await serve("full"));
    expectSameBytes(await image.read(MiB, 4096), disk.expectedAt(MiB, 4096));
  });

  it("names Access-Control-Expose-Headers: Content-Range when the server hides it", async () => {
    const error = await expectCode(openImage(await serve("no-expose")), "UNSUPPORTED");
    expect(error.message).toContain("206 Partial Content without a readable total length in Content-Range");
    expect(error.message).toContain("Access-Control-Expose-Headers: Content-Range");
  });

  it("names Access-Control-Allow-Origin when the server sends no CORS headers", async () => {
    const error = await expectCode(openImage(await serve("off")), "IO_ERROR");
    expect(error.message).toContain("Failed to fetch");
    expect(error.message).toContain("Access-Control-Allow-Origin");
  });
});
