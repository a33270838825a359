// How many HTTP requests and bytes @vhdx/image spends over HttpSource: the
// images are served by the local range server (tools/range-server), which
// records every request, and each case opens (and reads) them as a page that
// streams a disk would. Counts, not times: the numbers are the same on every
// machine, so they are printed beside those of earlier commits (BASELINES).
//
//   node http-requests.mjs [--json]
//   node http-requests.mjs --measure-only --image /tmp/base/packages/image/dist/index.js
//
// --image loads another build of @vhdx/image (a `git worktree add /tmp/base
// COMMIT` built with pnpm) to measure it with the same cases; --measure-only
// prints just the counts as JSON, which is how BASELINES was filled in.
// Needs qemu-img and qemu-io, and a built @vhdx/image (pnpm build).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { printTable, wantsJson } from "@vhdx-tools/bench-kit";
import { startRangeServer } from "@vhdx-tools/range-server";

const MiB = 2 ** 20;

/** A resolver that finds nothing, so only `parents` supply the parent. */
const NO_LOCATOR = { locate: async () => [], openPath: async () => Promise.reject(new Error("no paths here")) };

/**
 * The counts measured with these cases on builds of earlier commits (through
 * --image): 7fac475 is where the HTTP work of issue 17 started, 6238b4d is
 * what the issue found (before HttpSource learned the total from its first
 * answer). null: that build cannot do it.
 */
export const BASELINES = [
  {
    commit: "7fac475",
    cases: {
      "open-dynamic": { requests: 2, bytes: 425984 },
      "open-read-4k": { requests: 4, bytes: 434176 },
      "open-chain": { requests: 5, bytes: 1179648 },
      "open-chain-by-locator": null,
      "read-whole-8m": { requests: 11, bytes: 33984512 },
      "read-whole-1m": { requests: 35, bytes: 33984512 },
      "read-chain-8m": { requests: 2065, bytes: 35823616 },
    },
  },
  {
    commit: "6238b4d",
    cases: {
      "open-dynamic": { requests: 8, bytes: 393257 },
      "open-read-4k": { requests: 10, bytes: 401449 },
      "open-chain": { requests: 18, bytes: 1114390 },
      "open-chain-by-locator": null,
      "read-whole-8m": { requests: 17, bytes: 33951785 },
      "read-whole-1m": { requests: 41, bytes: 33951785 },
      "read-chain-8m": { requests: 2078, bytes: 35758358 },
    },
  },
];

const CASES = [
  ["open-dynamic", "open a 64 MiB dynamic image"],
  ["open-read-4k", "open it and read its first 4 KiB"],
  ["open-chain", "open a two-level chain (the parent passed in `parents`)"],
  ["open-chain-by-locator", "open a two-level chain (the parent found by its relative_path)"],
  ["read-whole-8m", "open and read the whole 64 MiB disk (32 MiB written) in 8 MiB reads"],
  ["read-whole-1m", "the same in 1 MiB reads"],
  [
    "read-chain-8m",
    "open the chain and read the whole disk in 8 MiB reads (one block of the child written every other sector)",
  ],
];

const { values } = parseArgs({
  options: { image: { type: "string" }, "measure-only": { type: "boolean" }, json: { type: "boolean" } },
});
const imageModule = values.image ? pathToFileURL(resolve(values.image)).href : "@vhdx/image";
const { HttpSource, openImage } = await import(imageModule);

const dir = mkdtempSync(join(tmpdir(), "vhdx-http-bench-"));
try {
  const files = makeImages(dir);
  const server = await startRangeServer({ files });
  try {
    const measured = {};
    for (const [id] of CASES) measured[id] = await count(server, () => runCase(id, server));
    report(measured);
  } finally {
    await server.close();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * A 64 MiB dynamic image (1 MiB blocks) holding 32 MiB in eight 4 MiB runs,
 * one every 8 MiB, made by QEMU; and a chain: a differencing child of it
 * (which QEMU cannot make, so createImage does) with 2 MiB of its own.
 */
function makeImages(folder) {
  const disk = join(folder, "disk.vhdx");
  execFileSync("qemu-img", ["create", "-q", "-f", "vhdx", "-o", "subformat=dynamic,block_size=1M", disk, "64M"]);
  const writes = Array.from({ length: 8 }, (_, i) => ["-c", `write -P ${i + 1} ${i * 8}M 4M`]).flat();
  execFileSync("qemu-io", ["-f", "vhdx", ...writes, disk], { stdio: "ignore" });
  return { "/disk.vhdx": disk, "/chain/base.vhdx": disk, "/chain/child.vhdx": makeChild(disk) };
}

/** The child is written by a separate process of the current library, so every build reads the same bytes. */
function makeChild(parentPath) {
  const childPath = join(dir, "child.vhdx");
  const script = `
    import { readFileSync, writeFileSync } from "node:fs";
    import { MemorySource, createImage, openImage } from "@vhdx/image";
    const parent = await openImage(new MemorySource(new Uint8Array(readFileSync(${JSON.stringify(parentPath)}))));
    const target = new MemorySource();
    const child = await createImage(target, { type: "differencing", parent, parentLocator: { relative_path: ".\\\\base.vhdx" } });
    await child.write(2 * ${MiB}, new Uint8Array(2 * ${MiB}).fill(7));
    // Every other sector of the first block: a partially present block, half from the parent.
    for (let sector = 0; sector < ${MiB} / 512; sector += 2) await child.write(sector * 512, new Uint8Array(512).fill(9));
    await child.close();
    writeFileSync(${JSON.stringify(childPath)}, target.bytes());
  `;
  execFileSync(process.execPath, ["--input-type=module", "-e", script], { cwd: import.meta.dirname });
  readFileSync(childPath); // fails here, not in a case, when the child was not made
  return childPath;
}

async function runCase(id, server) {
  const open = (path, options) => openImage(new HttpSource(server.url(path)), options);
  switch (id) {
    case "open-dynamic":
      return (await open("/disk.vhdx")).close();
    case "open-read-4k": {
      const image = await open("/disk.vhdx");
      await image.read(0, 4096);
      return image.close();
    }
    case "open-chain": {
      const parents = [new HttpSource(server.url("/chain/base.vhdx"))];
      return (await open("/chain/child.vhdx", { parents, parentResolver: NO_LOCATOR })).close();
    }
    case "open-chain-by-locator":
      return (await open("/chain/child.vhdx")).close();
    case "read-whole-8m":
      return readWhole(await open("/disk.vhdx"), 8 * MiB);
    case "read-whole-1m":
      return readWhole(await open("/disk.vhdx"), MiB);
    case "read-chain-8m": {
      const parents = [new HttpSource(server.url("/chain/base.vhdx"))];
      return readWhole(await open("/chain/child.vhdx", { parents, parentResolver: NO_LOCATOR }), 8 * MiB);
    }
  }
}

async function readWhole(image, pieceLength) {
  const piece = new Uint8Array(pieceLength);
  for (let offset = 0; offset < image.virtualSize; offset += piece.length) await image.readInto(piece, offset);
  await image.close();
}

/** Requests and bytes the range server answered during `work`; null when the build cannot do it. */
async function count(server, work) {
  server.requests.length = 0;
  try {
    await work();
  } catch (error) {
    if (error?.code === "PARENT_NOT_FOUND") return null;
    throw error;
  }
  return {
    requests: server.requests.length,
    bytes: server.requests.reduce((sum, request) => sum + request.bytes, 0),
  };
}

function report(measured) {
  if (values["measure-only"]) return console.log(JSON.stringify(measured, null, 2));
  const rows = CASES.map(([id, what]) => ({
    id,
    what,
    now: measured[id],
    before: Object.fromEntries(BASELINES.map(({ commit, cases }) => [commit, cases[id]])),
  }));
  if (wantsJson()) return console.log(JSON.stringify({ benchmark: "http-requests", rows }, null, 2));
  const commits = BASELINES.map(({ commit }) => commit);
  console.log(`HTTP requests and bytes through HttpSource, now and at ${commits.join(" and ")}.\n`);
  const cell = (counts) => (counts ? `${counts.requests} / ${Math.round(counts.bytes / 1024)} KiB` : "not supported");
  printTable(
    ["case", "what", "now", ...commits.map((commit) => `at ${commit}`)],
    rows.map((row) => [row.id, row.what, cell(row.now), ...commits.map((commit) => cell(row.before[commit]))]),
  );
  console.log("\nEach cell: requests / bytes of the answers.");
}
