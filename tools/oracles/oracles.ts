// Independent oracles for differential tests: QEMU (qemu-img, qemu-io),
// libvhdi (vhdiinfo, python3-libvhdi), 7-Zip (7zz), util-linux's sfdisk and fdisk (partition
// tables), and the Chromium the browser tests run in (Debian's, never a
// downloaded one). Known limits of each are listed in
// /work/shared/VHDX-NOTES.md, "Where the oracles are wrong".
//
// Policy: a test file asks `oracle(name)` whether it may run. Outside CI a
// missing oracle answers false (use `describe.skipIf(!oracle(...))`); in CI
// (process.env.CI set to anything but "" / "0" / "false") it throws, so a
// missing oracle fails the run instead of silently skipping it.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, delimiter, dirname, join, resolve } from "node:path";

export type OracleName =
  | "qemu-img"
  | "qemu-io"
  | "qemu-nbd"
  | "nbdinfo"
  | "nbdcopy"
  | "vhdiinfo"
  | "pyvhdi"
  | "7zz"
  | "chromium"
  | "sfdisk"
  | "fdisk";

/** The Python that has python3-libvhdi (Debian's, not a pyenv shim earlier on PATH). */
export const SYSTEM_PYTHON = "/usr/bin/python3";

export function inCi(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== "" && ci !== "0" && ci.toLowerCase() !== "false";
}

const found = new Map<OracleName, string | null>();

/** The Debian package of each command found on PATH. */
const APT_PACKAGES: Record<Exclude<OracleName, "pyvhdi" | "chromium">, string> = {
  "qemu-img": "qemu-utils",
  "qemu-io": "qemu-utils",
  "qemu-nbd": "qemu-utils",
  // libnbd's clients, for vhdx serve's tests (nbdinfo --map, nbdcopy).
  nbdinfo: "libnbd-bin",
  nbdcopy: "libnbd-bin",
  vhdiinfo: "libvhdi-utils",
  "7zz": "7zip",
  sfdisk: "fdisk",
  fdisk: "fdisk",
};

/** Where root's tools live when PATH leaves them out (sfdisk and fdisk are in /usr/sbin). */
const SYSTEM_DIRS = ["/usr/sbin", "/sbin"];

/** Where the oracle is (an executable path), or null. Cached. */
export function oraclePath(name: OracleName): string | null {
  let path = found.get(name);
  if (path === undefined) {
    path = name === "pyvhdi" ? findPyvhdi() : name === "chromium" ? findChromium() : findOnPath(name);
    found.set(name, path);
  }
  return path;
}

/**
 * Whether the oracle can be used. Missing: false outside CI, an exception in CI.
 * Call it at the top of a test file (collection time), so the throw fails the file.
 */
export function oracle(name: OracleName): boolean {
  if (oraclePath(name) !== null) return true;
  if (inCi()) {
    const how =
      name === "pyvhdi"
        ? `${SYSTEM_PYTHON} with "import pyvhdi" (apt-get install python3-libvhdi)`
        : name === "chromium"
          ? `${chromiumCandidate()} (apt-get install chromium, or set CHROMIUM to a Chromium's path)`
          : `${name} on PATH (apt-get install ${APT_PACKAGES[name]})`;
    throw new Error(
      `oracle ${name} is missing in CI (CI=${process.env.CI}); needs ${how}. A missing oracle in CI is a failure, not a skip.`,
    );
  }
  return false;
}

/** Whether all of the oracles can be used (same CI policy as `oracle`). */
export function oracles(...names: OracleName[]): boolean {
  // Evaluate every name so CI reports the first missing one even after a false.
  return names.map((name) => oracle(name)).every(Boolean);
}

function findOnPath(command: string): string | null {
  for (const dir of [...(process.env.PATH ?? "").split(delimiter), ...SYSTEM_DIRS]) {
    if (dir === "") continue;
    const candidate = join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/** $CHROMIUM, else Debian's chromium (the path tools/browser launches). */
function chromiumCandidate(): string {
  return process.env.CHROMIUM || "/usr/bin/chromium";
}

function findChromium(): string | null {
  try {
    accessSync(chromiumCandidate(), constants.X_OK);
    return chromiumCandidate();
  } catch {
    return null;
  }
}

function findPyvhdi(): string | null {
  try {
    accessSync(SYSTEM_PYTHON, constants.X_OK);
    execFileSync(SYSTEM_PYTHON, ["-c", "import pyvhdi"], { stdio: "pipe" });
    return SYSTEM_PYTHON;
  } catch {
    return null;
  }
}

export interface RunOptions {
  /** Largest stdout accepted, in bytes (default 64 MiB). */
  maxBuffer?: number;
  timeoutMs?: number;
  /** Bytes fed to the command's stdin (otherwise stdin is closed). */
  input?: string | Uint8Array;
}

/** Runs a command and returns its stdout; throws with the command line, status and stderr on failure. */
export function run(command: string, args: readonly string[], options: RunOptions = {}): Buffer {
  try {
    return execFileSync(command, args, {
      stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
      ...(options.input === undefined ? {} : { input: options.input }),
      maxBuffer: options.maxBuffer ?? 64 << 20,
      timeout: options.timeoutMs ?? 120_000,
    });
  } catch (error) {
    const e = error as NodeJS.ErrnoException & {
      status?: number | null;
      signal?: string | null;
      stderr?: Buffer;
      stdout?: Buffer;
    };
    const shown = [command, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(" ");
    const line = shown.length > 2000 ? `${shown.slice(0, 2000)}... (${shown.length} chars)` : shown;
    const stderr = e.stderr?.toString().trim() ?? "";
    const stdout = e.stdout?.toString().trim().split("\n").slice(-20).join("\n") ?? "";
    const status = e.code === "ENOENT" ? "not found" : e.signal ? `killed by ${e.signal}` : `exit status ${e.status}`;
    throw new Error(
      `${line}\n  failed: ${status}${stderr ? `\n  stderr: ${stderr}` : ""}${!stderr && stdout ? `\n  stdout (tail): ${stdout}` : ""}`,
      {
        cause: error,
      },
    );
  }
}

// ---------------------------------------------------------------- QEMU

export interface QemuCreateOptions {
  /** Virtual size in bytes (a multiple of 512). */
  size: number;
  subformat: "fixed" | "dynamic";
  /** Bytes, a power of two from 1 MiB to 256 MiB; QEMU picks one when omitted. */
  blockSize?: number;
  /** QEMU's default is true: new blocks are marked ZERO, even in fixed images. */
  blockStateZero?: boolean;
  /** Log size in bytes (default QEMU's 1 MiB). */
  logSize?: number;
}

/** `qemu-img create -f vhdx`: QEMU 7.2 makes only 512-byte logical sector images. */
export function qemuCreate(path: string, options: QemuCreateOptions): void {
  const o = [`subformat=${options.subformat}`];
  if (options.blockSize !== undefined) o.push(`block_size=${options.blockSize}`);
  if (options.blockStateZero !== undefined) o.push(`block_state_zero=${options.blockStateZero ? "on" : "off"}`);
  if (options.logSize !== undefined) o.push(`log_size=${options.logSize}`);
  run("qemu-img", ["create", "-q", "-f", "vhdx", "-o", o.join(","), path, String(options.size)]);
}

/**
 * One qemu-io session running every command in order (`write -P 0xNN OFF LEN`,
 * `write -z OFF LEN`, `read -P ...`). qemu-io exits non-zero when a command fails.
 * Returns qemu-io's stdout.
 */
export function qemuIo(path: string, commands: readonly string[], options: { readOnly?: boolean } = {}): string {
  const args = ["-f", "vhdx"];
  if (options.readOnly) args.push("-r");
  for (const command of commands) args.push("-c", command);
  args.push(path);
  return run("qemu-io", args).toString();
}

/** `qemu-img convert -O raw` (the raw file is sparse where the disk reads zeros). */
export function qemuConvertToRaw(vhdx: string, raw: string): void {
  run("qemu-img", ["convert", "-f", "vhdx", "-O", "raw", vhdx, raw]);
}

/** `qemu-img check`; throws when QEMU finds errors or leaks. */
export function qemuCheck(path: string): string {
  return run("qemu-img", ["check", "-f", "vhdx", path]).toString();
}

// ---------------------------------------------------------------- libvhdi

export interface VhdiInfo {
  /** Virtual size in bytes. */
  mediaSize: number;
  /** Logical sector size. */
  bytesPerSector: number;
  diskType: "fixed" | "dynamic" | "differencing";
  /** The DataWriteGuid, lower case, same text form as VhdxImage.dataWriteGuid. */
  identifier: string;
  /** The parent's DataWriteGuid for a differencing disk. */
  parentIdentifier?: string;
  /** Every "key : value" line as printed. */
  raw: Record<string, string>;
}

const VHDI_DISK_TYPES: Record<string, VhdiInfo["diskType"]> = {
  Fixed: "fixed",
  Dynamic: "dynamic",
  Differential: "differencing",
};

/** Runs `vhdiinfo` and parses the fields the tests compare. */
export function vhdiinfoFields(path: string): VhdiInfo {
  const text = run("vhdiinfo", [path]).toString();
  const raw: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^\s*([^:]+?)\s*:\s*(.*?)\s*$/.exec(line);
    if (m) raw[m[1]!] = m[2]!;
  }
  const field = (key: string) => {
    const value = raw[key];
    if (value === undefined) throw new Error(`vhdiinfo ${path}: no "${key}" line in:\n${text}`);
    return value;
  };
  const media = /\((\d+) bytes\)/.exec(field("Media size"));
  const sector = /^(\d+) bytes$/.exec(field("Bytes per sector"));
  const diskType = VHDI_DISK_TYPES[field("Disk type")];
  if (!media || !sector || !diskType) throw new Error(`vhdiinfo ${path}: unexpected output:\n${text}`);
  return {
    mediaSize: Number(media[1]),
    bytesPerSector: Number(sector[1]),
    diskType,
    identifier: field("Identifier").toLowerCase(),
    ...(raw["Parent identifier"] !== undefined ? { parentIdentifier: raw["Parent identifier"].toLowerCase() } : {}),
    raw,
  };
}

/**
 * Reads byte ranges of the virtual disk through python3-libvhdi, concatenated
 * in order. `parents` (nearest first) make a differencing chain: libvhdi does
 * not follow parent locators itself; each file gets `set_parent(next)`, which
 * refuses a parent whose identifier does not match the child's linkage.
 * Mind libvhdi's differencing bugs (VHDX-NOTES.md): ZERO blocks of a child read
 * from the parent, and a NOT_PRESENT sector bitmap is read from file offset 0.
 */
export function pyvhdiRead(
  path: string,
  ranges: ReadonlyArray<readonly [offset: number, length: number]>,
  parents: readonly string[] = [],
): Uint8Array {
  const total = ranges.reduce((sum, [, length]) => sum + length, 0);
  const request = JSON.stringify({ path, parents, ranges });
  const out = run(SYSTEM_PYTHON, ["-c", PYVHDI_READ_SCRIPT], { input: request, maxBuffer: total + (1 << 20) });
  if (out.length !== total) throw new Error(`pyvhdi read ${out.length} bytes, expected ${total}`);
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

// Reads {"path", "parents" (nearest first), "ranges": [[offset, length]...]}
// from stdin and writes the ranges' bytes to stdout, concatenated in order.
// Kept inline (not a .py file) so the module works when bundled elsewhere.
const PYVHDI_READ_SCRIPT = `
import json, sys, pyvhdi
CHUNK = 16 << 20
request = json.load(sys.stdin)
files = []
try:
    for path in [request["path"], *request.get("parents", [])]:
        f = pyvhdi.file()
        f.open(path)
        files.append(f)
    for child, parent in zip(files, files[1:]):
        child.set_parent(parent)
    out = sys.stdout.buffer
    for offset, length in request["ranges"]:
        done = 0
        while done < length:
            n = min(CHUNK, length - done)
            data = files[0].read_buffer_at_offset(n, offset + done)
            if len(data) != n:
                raise RuntimeError(f"short read: {len(data)} of {n} bytes at {offset + done}")
            out.write(data)
            done += n
    out.flush()
finally:
    for f in files:
        f.close()
`;

// ---------------------------------------------------------------- 7-Zip

// 7-Zip reads VHDX with its own code (VhdxHandler.cpp); what the runners
// rely on was read there and is checked by the tests:
// - `7zz x -so IMAGE` writes the virtual disk to stdout. The archive holds one
//   item named after the file with the extension "img" (disk.vhdx -> disk.img).
// - `7zz t IMAGE` reads the whole disk; it prints "ERROR = ...", "WARNINGS:"
//   and the like, exits 2 when it could not open or read, and 0 otherwise
//   (also after a warning).
// - A parent is found through the parent locator: relative_path, then
//   volume_path, then absolute_win32_path, the first name that opens; its
//   DataWriteGuid must equal parent_linkage, or the chain is refused. Every
//   level's names are opened relative to the folder of the image 7zz was given,
//   and only when they stay inside it (no "..", no absolute path). On Linux "\"
//   is no separator: "..\base\b.vhdx" is one file name. sevenZipChainPath
//   shows 7-Zip a chain whose parents live in other folders under those names.

/** 7zz's first line, e.g. "7-Zip (z) 26.02 (x64) : Copyright (c) 1999-2026 Igor Pavlov : 2026-06-25". */
export function sevenZipVersion(): string {
  const lines = run("7zz", ["i"], { maxBuffer: 16 << 20 })
    .toString()
    .split("\n");
  return lines.find((line) => line.startsWith("7-Zip")) ?? "7-Zip (version not printed)";
}

/** `7zz x -so`: the whole virtual disk in memory, for small disks; throws when 7zz fails or the size is not `size`. */
export function sevenZipRead(path: string, size: number): Uint8Array {
  const out = run("7zz", ["x", "-so", "-bd", "--", path], { maxBuffer: size + 1 });
  if (out.length !== size) throw new Error(`7zz x -so ${path} wrote ${out.length} bytes, the virtual disk is ${size}`);
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

/** `7zz x -so`: the virtual disk in chunks as 7-Zip writes them; throws after the last one when 7zz failed. */
export async function* sevenZipExtract(path: string): AsyncGenerator<Uint8Array> {
  const child = spawn("7zz", ["x", "-so", "-bd", "--", path], { stdio: ["ignore", "pipe", "pipe"] });
  const stderr: Buffer[] = [];
  child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
  const exited = new Promise<number | null>((done, fail) => {
    child.on("error", fail);
    child.on("close", done);
  });
  exited.catch(() => {}); // awaited below; a consumer that stops early must not leave it unhandled
  let drained = false;
  try {
    for await (const chunk of child.stdout) yield chunk as Buffer;
    drained = true;
  } finally {
    if (!drained) child.kill(); // the consumer stopped early: 7zz would block on a full pipe
  }
  const status = await exited;
  if (status !== 0) {
    const text = Buffer.concat(stderr).toString().trim();
    throw new Error(`7zz x -so -bd -- ${path}\n  failed: exit status ${status}${text ? `\n  stderr: ${text}` : ""}`);
  }
}

export interface SevenZipTest {
  /** Exit status 0, "Everything is Ok", and no error or warning printed. */
  ok: boolean;
  /** Every error and warning line 7-Zip printed, once each. */
  problems: string[];
  /** The files 7-Zip opened: 1, or the chain's length ("NumVolumeLevels"). */
  levels: number;
}

/** `7zz t`: 7-Zip opens the image (and its parents) and reads the whole disk. */
export function sevenZipTest(path: string): SevenZipTest {
  const result = sevenZipReport("t", path);
  const lines = `${result.stdout}\n${result.stderr}`.split("\n").map((line) => line.trim());
  const problems = new Set<string>();
  let listing = false; // inside a "WARNINGS:" or "ERRORS:" list, which ends at an empty line
  for (const line of lines) {
    if (line === "") listing = false;
    else if (listing || /\b(errors?|warnings?)\b/i.test(line)) problems.add(line);
    if (/^(WARNINGS|ERRORS):$/.test(line)) listing = true;
  }
  const levels = Number(/^NumVolumeLevels: (\d+)$/m.exec(lines.join("\n"))?.[1] ?? 1);
  const ok = result.status === 0 && problems.size === 0 && lines.includes("Everything is Ok");
  if (!ok && problems.size === 0) problems.add(`exit status ${result.status}, no "Everything is Ok"`);
  return { ok, problems: [...problems], levels };
}

/**
 * The path to give 7zz for the image at `path` with `parents` (nearest first):
 * the image itself when 7-Zip finds each parent through its locator, else a
 * link to it in `scratch` (an empty folder), beside links named as each
 * level's locator names its parent. 7-Zip still opens every parent by the
 * locator's name and checks its linkage; only the folder is arranged for it.
 */
export function sevenZipChainPath(path: string, parents: readonly string[], scratch: string): string {
  const levels = [path, ...parents];
  const names = parents.map((_, i) => sevenZipParentName(levels[i]!));
  const folder = dirname(resolve(path));
  if (names.every((name, i) => staysInside(name) && sameFile(join(folder, name), parents[i]!))) return path;
  const linked = new Map<string, string>();
  const link = (name: string, target: string) => {
    const real = realpathSync(target);
    const earlier = linked.get(name);
    if (earlier === real) return;
    if (earlier !== undefined || !staysInside(name))
      throw new Error(
        `7-Zip cannot be shown ${target} as "${name}" next to ${path} (name taken, or outside the folder)`,
      );
    mkdirSync(dirname(join(scratch, name)), { recursive: true });
    symlinkSync(real, join(scratch, name));
    linked.set(name, real);
  };
  link(basename(path), path);
  names.forEach((name, i) => link(name, parents[i]!));
  return join(scratch, basename(path));
}

/** The name 7-Zip opens the parent by: the first locator path it knows, without a leading ".\". */
function sevenZipParentName(child: string): string {
  // 7zz l exits 2 when the parent is missing, after listing the child's own locator.
  const listing = sevenZipReport("l", child).stdout.split("\n");
  const own = listing.slice(listing.findIndex((line) => line.trim() === "Parent:") + 1);
  const pairs = new Map<string, string>();
  for (const line of own) {
    const pair = /^\s+(\w+): (.*)$/.exec(line);
    if (!pair) break;
    pairs.set(pair[1]!, pair[2]!);
  }
  const name = ["relative_path", "volume_path", "absolute_win32_path"].map((key) => pairs.get(key)).find(Boolean);
  if (name === undefined) throw new Error(`7zz l -slt ${child}: no parent locator path in its listing`);
  return name.startsWith(".\\") ? name.slice(2) : name;
}

/** Runs `7zz t` or `7zz l -slt` on the image, whatever its exit status (2 when it found a problem). */
function sevenZipReport(command: "t" | "l", path: string): { status: number | null; stdout: string; stderr: string } {
  const args = [command, ...(command === "l" ? ["-slt"] : []), "-bd", "--", path];
  const result = spawnSync("7zz", args, {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    maxBuffer: 16 << 20,
    timeout: 120_000,
  });
  if (result.error)
    throw new Error(`7zz ${args.join(" ")}\n  failed: ${result.error.message}`, { cause: result.error });
  return result;
}

/** 7-Zip's rule for a name it opens: relative, and never above the folder ("/" is the only separator here). */
function staysInside(name: string): boolean {
  if (name.startsWith("/")) return false;
  let level = 0;
  for (const part of name.split("/")) {
    if (part === "" || part === ".") continue;
    level += part === ".." ? -1 : 1;
    if (level < 0) return false;
  }
  return level > 0;
}

function sameFile(a: string, b: string): boolean {
  return existsSync(a) && realpathSync(a) === realpathSync(b);
}

// ---------------------------------------------------------------- temp dirs

export interface TempDir {
  readonly path: string;
  /** A path inside the directory. */
  file(name: string): string;
  /** Removes the directory and everything in it (idempotent). */
  remove(): void;
}

/** A fresh directory under the OS temp dir; call remove() in afterAll. */
export function tempDir(prefix = "vhdx-oracle-"): TempDir {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return {
    path,
    file: (name) => join(path, name),
    remove: () => rmSync(path, { recursive: true, force: true }),
  };
}

/** Runs `body` with a temp dir that is removed afterwards, whatever happens. */
export async function withTempDir<T>(body: (dir: TempDir) => Promise<T> | T, prefix?: string): Promise<T> {
  const dir = tempDir(prefix);
  try {
    return await body(dir);
  } finally {
    dir.remove();
  }
}
