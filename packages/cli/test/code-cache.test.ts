// The code cache of the built command (src/code-cache.ts): used only when it
// was made from the same bytes and is whole, rewritten when it is not, and
// never a reason for a command to fail or to say anything more.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Script } from "node:vm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checksum, codeCacheFile, readCodeCache, writeCodeCache } from "../src/code-cache.js";
import { COMMAND_NAMES } from "../src/command-names.js";
import { COMMANDS } from "../src/commands/index.js";
import { bin, ensureBuilt, packageDir, vhdx } from "./harness.js";

let dir: string;
let image: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "vhdx-code-cache-"));
  image = join(dir, "disk.vhdx");
  expect((await vhdx(["create", image, "64M"])).status).toBe(0);
  ensureBuilt();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A fresh cache folder for one test. */
function cacheHome(name: string): string {
  return join(dir, `cache-${name}`);
}

/** Runs the built command with `cache` as $XDG_CACHE_HOME. */
function runWithCache(cache: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const result = spawnSync(process.execPath, [bin, ...args], {
    encoding: "utf8",
    env: { ...process.env, XDG_CACHE_HOME: cache, ...env },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function cacheFiles(cache: string): string[] {
  try {
    return readdirSync(join(cache, "vhdx")).sort();
  } catch {
    return [];
  }
}

describe("the cache file", () => {
  const source = Buffer.from("globalThis.codeCacheProbe = (a, b) => a + b;\n");
  const makeScript = (bytes: Buffer) => {
    const script = new Script(bytes.toString("utf8"), { filename: "probe.js" });
    script.runInThisContext();
    return script;
  };

  it("gives back V8's data for the bytes it was made from", () => {
    const file = join(dir, "unit", "probe.v8cache");
    writeCodeCache(file, source, makeScript(source));
    const data = readCodeCache(file, source);
    expect(data).toBeDefined();
    const reused = new Script(source.toString("utf8"), { filename: "probe.js", cachedData: data });
    expect(reused.cachedDataRejected).toBe(false);
  });

  it("refuses other bytes of the same length, a damaged file, a truncated one and a foreign one", () => {
    const file = join(dir, "unit", "damage.v8cache");
    writeCodeCache(file, source, makeScript(source));
    const whole = readFileSync(file);

    const sameLength = Buffer.from(source.toString("utf8").replace("a + b", "a - b"));
    expect(sameLength.length).toBe(source.length);
    expect(readCodeCache(file, sameLength)).toBeUndefined();

    const damaged = Buffer.from(whole);
    damaged[40] = (damaged[40] ?? 0) ^ 0xff; // inside V8's data
    writeFileSync(file, damaged);
    expect(readCodeCache(file, source)).toBeUndefined();

    writeFileSync(file, whole.subarray(0, whole.length - 1));
    expect(readCodeCache(file, source)).toBeUndefined();
    writeFileSync(file, whole.subarray(0, 20));
    expect(readCodeCache(file, source)).toBeUndefined();
    writeFileSync(file, Buffer.alloc(whole.length, 0x41));
    expect(readCodeCache(file, source)).toBeUndefined();
    expect(readCodeCache(join(dir, "unit", "missing.v8cache"), source)).toBeUndefined();
  });

  it("is not written where it cannot be, without an error or a temporary file left", () => {
    const blocker = join(dir, "a-file");
    writeFileSync(blocker, "not a folder");
    const file = join(blocker, "vhdx", "x.v8cache");
    expect(() => writeCodeCache(file, source, makeScript(source))).not.toThrow();
    expect(readFileSync(blocker, "utf8")).toBe("not a folder");
  });

  it("checksums every byte, aligned or not", () => {
    const bytes = Buffer.from("0123456789abcdefg");
    const other = Buffer.from(bytes);
    other[16] = 0x47;
    expect(checksum(bytes)).not.toBe(checksum(other));
    const unaligned = Buffer.concat([Buffer.from("x"), bytes]).subarray(1);
    expect(checksum(unaligned)).toBe(checksum(bytes));
  });

  it("lives in $XDG_CACHE_HOME/vhdx, one per command, unless turned off", () => {
    const file = codeCacheFile({ XDG_CACHE_HOME: "/somewhere" }, "1.2.3", "info");
    expect(file).toBe(join("/somewhere", "vhdx", `1.2.3-info-node${process.version}-${process.arch}.v8cache`));
    expect(codeCacheFile({ XDG_CACHE_HOME: "relative/path" }, "1.2.3", "info")).not.toContain("relative");
    expect(codeCacheFile({ XDG_CACHE_HOME: "/somewhere", VHDX_CODE_CACHE: "0" }, "1.2.3", "info")).toBeUndefined();
  });

  it("is named after the same commands the command line knows", () => {
    expect([...COMMAND_NAMES].sort()).toEqual(COMMANDS.map((c) => c.name).sort());
  });
});

describe("the built command with its code cache", () => {
  it("writes the cache on the first run and gives the same answer from it", async () => {
    const cache = cacheHome("first");
    const inProcess = await vhdx(["info", "--json", image]);
    const first = runWithCache(cache, ["info", "--json", image]);
    expect(first).toEqual({ status: 0, stdout: inProcess.stdout, stderr: "" });
    const [name] = cacheFiles(cache);
    expect(cacheFiles(cache)).toEqual([expect.stringMatching(/-info-node.*\.v8cache$/)]);
    const written = statSync(join(cache, "vhdx", name!)).mtimeMs;

    const second = runWithCache(cache, ["info", "--json", image]);
    expect(second).toEqual(first);
    expect(statSync(join(cache, "vhdx", name!)).mtimeMs).toBe(written); // used, not rewritten
  });

  it("replaces a damaged cache and still answers the same", () => {
    const cache = cacheHome("damaged");
    const first = runWithCache(cache, ["info", image]);
    const file = join(cache, "vhdx", cacheFiles(cache)[0]!);
    const whole = readFileSync(file);
    const damaged = Buffer.from(whole);
    for (let at = 64; at < damaged.length / 2; at += 997) damaged[at] = (damaged[at] ?? 0) ^ 0x55;
    writeFileSync(file, damaged);

    expect(runWithCache(cache, ["info", image])).toEqual(first);
    expect(readFileSync(file).equals(damaged)).toBe(false);
    expect(runWithCache(cache, ["info", image])).toEqual(first);
  });

  it("writes no cache after a failed run, a subcommand's --help or with VHDX_CODE_CACHE=0", () => {
    const cache = cacheHome("none");
    expect(runWithCache(cache, ["info", join(dir, "missing.vhdx")]).status).toBe(2);
    expect(runWithCache(cache, ["info", "--help"]).status).toBe(0);
    expect(runWithCache(cache, ["no-such-command"]).status).toBe(2);
    expect(runWithCache(cache, ["info", image], { VHDX_CODE_CACHE: "0" }).status).toBe(0);
    expect(cacheFiles(cache)).toEqual([]);
  });

  it("keeps one cache for the runs without a subcommand (--version, --help)", () => {
    const cache = cacheHome("main");
    const first = runWithCache(cache, ["--version"]);
    expect(first).toEqual({ status: 0, stdout: expect.stringMatching(/^vhdx \d/), stderr: "" });
    expect(runWithCache(cache, ["--help"]).status).toBe(0);
    expect(cacheFiles(cache)).toEqual([expect.stringMatching(/-main-node.*\.v8cache$/)]);
    expect(runWithCache(cache, ["--version"])).toEqual(first);
  });

  it("runs as usual when the cache folder cannot be made", () => {
    const blocker = join(dir, "cache-is-a-file");
    writeFileSync(blocker, "");
    const outcome = runWithCache(blocker, ["info", "--json", image]);
    expect(outcome.stderr).toBe("");
    expect(outcome.status).toBe(0);
    expect(JSON.parse(outcome.stdout).virtualSize).toBe(64 * 2 ** 20);
  });

  it("runs the same from dist/vhdx.js, the ES module entry earlier builds had", () => {
    const esmEntry = join(packageDir, "dist", "vhdx.js");
    const result = spawnSync(process.execPath, [esmEntry, "info", "--json", image], {
      encoding: "utf8",
      env: { ...process.env, XDG_CACHE_HOME: cacheHome("esm") },
    });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(result.stdout).toBe(runWithCache(cacheHome("esm"), ["info", "--json", image]).stdout);
  });

  it("keeps one cache per command", () => {
    const cache = cacheHome("per-command");
    expect(runWithCache(cache, ["info", image]).status).toBe(0);
    expect(runWithCache(cache, ["map", "--json", image]).status).toBe(0);
    expect(cacheFiles(cache).map((name) => name.split("-")[1])).toEqual(["info", "map"]);
  });
});
