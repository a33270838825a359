// A V8 code cache for the bundled command. Node 20 compiles every script from
// its source at each start (module.enableCompileCache came in Node 22); run
// through vm.Script, the bundle can hand V8 the code it compiled the last
// time the same command ran, and the start of `vhdx info` loses most of its
// compiling (see the README, Performance).
//
// V8 checks little of what it is given: the length of the source, its own
// version and flags, and (in release builds) no checksum, so damaged data runs
// as damaged code. A cache file therefore holds the bytes of the script it was
// made from and a checksum of V8's data, and is used only when both match.
// Anything that goes wrong (no home folder, a read-only disk, a damaged or
// foreign file, V8 refusing the data) ends in a normal compile, never in an
// error.
//
// | offset | size | field                                   |
// |--------|------|-----------------------------------------|
// | 0      | 16   | MAGIC                                   |
// | 16     | 4    | length of the script's bytes (u32 LE)   |
// | 20     | 4    | length of V8's data (u32 LE)            |
// | 24     | 4    | checksum of V8's data (u32 LE)          |
// | 28     | 4    | zero                                    |
// | 32     | ...  | V8's data, then the script's bytes      |
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { homedir } from "node:os";
import { dirname, isAbsolute, join } from "node:path";
import { Script } from "node:vm";

/** The first bytes of a cache file; a new layout gets a new number. */
const MAGIC = Buffer.from("vhdx-v8-cache-1\n", "latin1");
const HEADER_LENGTH = 32;

/** The CommonJS wrapper, on a line of its own so that stack traces keep the file's line numbers. */
const WRAPPER_START = "(function (exports, require, module, __filename, __dirname) {\n";
const WRAPPER_END = "\n})";

type ModuleFunction = (
  exports: unknown,
  require: NodeJS.Require,
  module: { exports: unknown },
  filename: string,
  dirname: string,
) => void;

/**
 * Runs the CommonJS script `file` as Node's loader would, with the compiled
 * code in `cacheFile` when it was made from the same bytes. When there was no
 * usable cache and `keepCache()` says yes as the process is about to exit, the
 * code compiled during this run is written there for the next one.
 */
export function runWithCodeCache(file: string, cacheFile: string | undefined, keepCache: () => boolean): void {
  const source = readFileSync(file);
  const cachedData = cacheFile === undefined ? undefined : readCodeCache(cacheFile, source);
  const script = new Script(WRAPPER_START + source.toString("utf8") + WRAPPER_END, {
    filename: file,
    lineOffset: -1,
    ...(cachedData === undefined ? {} : { cachedData }),
  });
  if (cacheFile !== undefined && (cachedData === undefined || script.cachedDataRejected === true)) {
    // After the run, so that the cache holds every function the command compiled, not only the top level.
    process.once("beforeExit", () => {
      if (keepCache()) writeCodeCache(cacheFile, source, script);
    });
  }
  const run = script.runInThisContext() as ModuleFunction;
  const module = { exports: {} };
  run.call(module.exports, module.exports, createRequire(file), module, file, dirname(file));
}

/** V8's data from `cacheFile` when that file is whole and was made from `source`; undefined otherwise. */
export function readCodeCache(cacheFile: string, source: Uint8Array): Buffer | undefined {
  let bytes: Buffer;
  try {
    bytes = readFileSync(cacheFile);
  } catch {
    return undefined;
  }
  if (bytes.length < HEADER_LENGTH || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  const sourceLength = bytes.readUInt32LE(16);
  const dataLength = bytes.readUInt32LE(20);
  if (sourceLength !== source.length || bytes.length !== HEADER_LENGTH + dataLength + sourceLength) return undefined;
  const data = bytes.subarray(HEADER_LENGTH, HEADER_LENGTH + dataLength);
  if (!bytes.subarray(HEADER_LENGTH + dataLength).equals(source)) return undefined;
  if (checksum(data) !== bytes.readUInt32LE(24)) return undefined;
  return data;
}

/**
 * Writes the code `script` has compiled so far, with the bytes it was made
 * from, to `cacheFile`: under a temporary name first, then renamed, so that a
 * concurrent run reads the old file or the new one, never half of one.
 */
export function writeCodeCache(cacheFile: string, source: Uint8Array, script: Script): void {
  const temporary = `${cacheFile}.${process.pid}-${Math.random().toString(36).slice(2)}.tmp`;
  try {
    const data = script.createCachedData();
    const header = Buffer.alloc(HEADER_LENGTH);
    MAGIC.copy(header);
    header.writeUInt32LE(source.length, 16);
    header.writeUInt32LE(data.length, 20);
    header.writeUInt32LE(checksum(data), 24);
    mkdirSync(dirname(cacheFile), { recursive: true, mode: 0o700 });
    writeFileSync(temporary, Buffer.concat([header, data, source]), { mode: 0o600 });
    renameSync(temporary, cacheFile);
  } catch {
    try {
      rmSync(temporary, { force: true });
    } catch {
      // Nothing more to do: the cache is an optimisation.
    }
  }
}

/**
 * FNV-1a over 32-bit words (then the tail bytes): about 1 ms for the 300 KB
 * of `vhdx info`'s data where loading node:crypto or node:zlib for a better
 * one would cost more. It is there to catch damage, not an attacker: the
 * folder is the user's own.
 */
export function checksum(bytes: Uint8Array): number {
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : new Uint8Array(bytes); // a copy (Buffer.slice would not be)
  const words = new Int32Array(aligned.buffer, aligned.byteOffset, aligned.length >>> 2);
  let hash = 0x811c9dc5;
  for (let i = 0; i < words.length; i++) hash = Math.imul(hash ^ words[i]!, 0x01000193);
  for (let i = words.length * 4; i < aligned.length; i++) hash = Math.imul(hash ^ aligned[i]!, 0x01000193);
  return hash >>> 0;
}

/**
 * Where the code cache of `command` goes: `$XDG_CACHE_HOME/vhdx` (or the
 * platform's cache folder in the home folder), one file per command, Node
 * version and architecture. Undefined when VHDX_CODE_CACHE=0 or there is no
 * home folder. Never the shared temporary folder, where another user could
 * leave a file for us to run.
 */
export function codeCacheFile(env: NodeJS.ProcessEnv, version: string, command: string): string | undefined {
  if (env.VHDX_CODE_CACHE === "0") return undefined;
  const folder = cacheFolder(env);
  if (folder === undefined) return undefined;
  return join(folder, "vhdx", `${version}-${command}-node${process.version}-${process.arch}.v8cache`);
}

function cacheFolder(env: NodeJS.ProcessEnv): string | undefined {
  const xdg = env.XDG_CACHE_HOME;
  if (xdg !== undefined && isAbsolute(xdg)) return xdg;
  if (process.platform === "win32" && env.LOCALAPPDATA !== undefined && isAbsolute(env.LOCALAPPDATA)) {
    return env.LOCALAPPDATA;
  }
  let home: string;
  try {
    home = homedir();
  } catch {
    return undefined;
  }
  if (home === "" || !isAbsolute(home)) return undefined;
  return process.platform === "darwin" ? join(home, "Library", "Caches") : join(home, ".cache");
}
