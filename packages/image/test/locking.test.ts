// Image locking as a person meets it: other processes (a second node process
// running the built package, and qemu-io) holding the same file. The lock
// bytes are checked in /proc/locks against what qemu-io 7.2 takes. Linux only:
// the macOS and Windows schemes are covered by the platform selection below.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { oracle, qemuCreate, tempDir } from "@vhdx-tools/oracles";
import {
  MemorySource,
  VhdxError,
  compactImage,
  createImage,
  mergeIntoParent,
  openImage,
  resizeImage,
} from "../src/index.js";
import { FileSource, compactVhdx, createVhdx, mergeVhdx, openVhdx, resizeVhdx } from "../src/node/index.js";
import { WINDOWS_LOCK_OFFSET, lockFile, lockScheme } from "../src/node/file-lock.js";
import { conflictOf, qemuLockBytes } from "../src/node/qemu-lock-bytes.js";

const MiB = 1 << 20;
const TEST_DIR = dirname(fileURLToPath(import.meta.url));
const PACKAGE_DIR = dirname(TEST_DIR);
const DIST_NODE = join(PACKAGE_DIR, "dist", "node.js");
const HOLDER = join(TEST_DIR, "lock-holder.mjs");
const linux = process.platform === "linux";
const qemu = linux && oracle("qemu-io");

const dir = tempDir("vhdx-locking-");
const processes: ChildProcess[] = [];
let count = 0;

beforeAll(() => {
  // The holder runs dist/: build it when it is missing (turbo's test task builds first otherwise).
  if (!existsSync(DIST_NODE)) execFileSync("npx", ["tsup"], { cwd: PACKAGE_DIR, stdio: "pipe", timeout: 180_000 });
}, 200_000);

afterEach(() => {
  for (const child of processes.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
});

afterAll(() => dir.remove());

async function newImage(): Promise<string> {
  const path = dir.file(`image-${++count}.vhdx`);
  await (await createVhdx(path, { size: 8 * MiB, blockSize: MiB })).close();
  return path;
}

async function expectLocked(promise: Promise<unknown>, message?: RegExp): Promise<VhdxError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(VhdxError.isInstance(error), String(error)).toBe(true);
  expect((error as VhdxError).code).toBe("LOCKED");
  if (message) expect((error as VhdxError).message).toMatch(message);
  return error as VhdxError;
}

/** Starts a process that opens `path` with `options` and holds it until released. */
async function holder(path: string, options: object): Promise<{ outcome: string; release(): Promise<void> }> {
  const child = spawn(process.execPath, [HOLDER, pathToFileURL(DIST_NODE).href, path, JSON.stringify(options)], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  processes.push(child);
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  const outcome = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes("\n")) resolve(out.trim());
    });
    child.on("exit", (code) => reject(new Error(`holder exited (${code}) saying ${JSON.stringify(out)}`)));
  });
  return {
    outcome,
    async release() {
      child.stdin!.end();
      await exited;
    },
  };
}

/** The byte ranges locked on `path`, as "TYPE start-end" lines from /proc/locks. */
function locksOn(path: string): string[] {
  const inode = statSync(path).ino;
  return readFileSync("/proc/locks", "utf8")
    .split("\n")
    .map((line) => line.split(/\s+/))
    .filter((fields) => fields.some((field) => field.endsWith(`:${inode}`)))
    .map((fields) => `${fields[3]} ${fields[fields.length - 2]}-${fields[fields.length - 1]}`)
    .sort();
}

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  const until = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** qemu-io holding `path` (read-write unless `-r` is among `flags`) for `ms` milliseconds. */
async function qemuHolding(path: string, flags: string[] = [], ms = 3000): Promise<ChildProcess> {
  const child = spawn("qemu-io", ["-f", "vhdx", ...flags, "-c", `sleep ${ms}`, path], { stdio: "ignore" });
  processes.push(child);
  await waitFor(() => locksOn(path).length > 0, "qemu-io to lock the image");
  return child;
}

function qemuIo(path: string, flags: string[], command: string): { status: number; stderr: string } {
  try {
    execFileSync("qemu-io", ["-f", "vhdx", ...flags, "-c", command, path], { stdio: "pipe", timeout: 20_000 });
    return { status: 0, stderr: "" };
  } catch (error) {
    const { status, stderr } = error as { status: number; stderr: Buffer };
    return { status, stderr: stderr.toString() };
  }
}

describe("the lock bytes and platforms", () => {
  it("takes QEMU's bytes: qemu-io, qemu-io -r and qemu-io -r -U", () => {
    expect(qemuLockBytes("write")).toEqual({ hold: [100, 101, 103, 201, 203], test: [101, 103, 200, 201, 203] });
    expect(qemuLockBytes("read")).toEqual({ hold: [100, 201, 203], test: [101, 103, 200] });
    expect(qemuLockBytes("force-share")).toEqual({ hold: [100], test: [200] });
    expect([101, 103, 201, 203, 200].map(conflictOf)).toEqual([
      "writing",
      "writing",
      "no-writing",
      "no-writing",
      "busy",
    ]);
  });

  it("uses QEMU's bytes on Linux, flock on macOS, one far byte on Windows, and nothing elsewhere", () => {
    expect(lockScheme("linux", "force-share")).toEqual({ kind: "qemu-bytes" });
    expect(lockScheme("darwin", "write")).toEqual({ kind: "whole-file", offset: 0, length: 0, shared: false });
    expect(lockScheme("darwin", "read")).toEqual({ kind: "whole-file", offset: 0, length: 0, shared: true });
    expect(lockScheme("darwin", "force-share")).toEqual({ kind: "none" });
    expect(lockScheme("win32", "write")).toEqual({ kind: "whole-file", offset: 2 ** 52, length: 1, shared: false });
    expect(lockScheme("win32", "read")).toEqual({
      kind: "whole-file",
      offset: WINDOWS_LOCK_OFFSET,
      length: 1,
      shared: true,
    });
    expect(lockScheme("win32", "force-share")).toEqual({ kind: "none" });
    expect(lockScheme("freebsd", "write")).toEqual({ kind: "unsupported" });
  });

  it("opens without a lock where it cannot lock, with one warning", async () => {
    const path = await newImage();
    const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => undefined);
    try {
      const handle = await (await import("node:fs/promises")).open(path, "r");
      try {
        (await lockFile(handle, path, "read", "freebsd")).release();
        (await lockFile(handle, path, "read", "freebsd")).release();
      } finally {
        await handle.close();
      }
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0]![0])).toMatch(/without a lock: file locking is not implemented on freebsd/);
    } finally {
      warn.mockRestore();
    }
  });
});

describe("options", () => {
  it("refuses unknown option keys, naming the key and the near one", async () => {
    const path = await newImage();
    const refused = (promise: Promise<unknown>, message: RegExp) =>
      expect(promise).rejects.toMatchObject({ code: "INVALID_ARGUMENT", message: expect.stringMatching(message) });
    await refused(
      openVhdx(path, { readonly: false } as object),
      /^openVhdx: unknown option "readonly" \(did you mean "readOnly"\?\)$/,
    );
    await refused(
      FileSource.open(path, { forceshare: true } as object),
      /FileSource\.open: unknown option "forceshare" \(did you mean "forceShare"\?\)/,
    );
    await refused(
      openImage(new MemorySource(new Uint8Array(0)), { nope: 1 } as object),
      /openImage: unknown option "nope"; known options: readOnly/,
    );
    await refused(
      createImage(new MemorySource(new Uint8Array(0)), { size: MiB, blocksize: MiB } as object),
      /createImage: .*"blocksize" \(did you mean "blockSize"\?\)/,
    );
    await refused(createVhdx(dir.file("never.vhdx"), { size: MiB, Flush: false } as object), /createVhdx: .*"Flush"/);
    expect(existsSync(dir.file("never.vhdx"))).toBe(false);
    await refused(resizeVhdx(path, 16 * MiB, { Force: true } as object), /resizeVhdx: .*did you mean "force"/);
    await refused(compactVhdx(path, { progress: () => {} } as object), /compactVhdx: unknown option "progress"/);
    await refused(mergeVhdx(path, { Keep: true } as object), /mergeVhdx: .*did you mean "keep"/);
    const image = await openVhdx(path, { readOnly: false });
    try {
      await refused(
        compactImage(image, { onprogress: () => {} } as object),
        /compactImage: .*did you mean "onProgress"/,
      );
      await refused(
        mergeIntoParent(image, image, { buffersize: 1 } as object),
        /mergeIntoParent: .*did you mean "bufferSize"/,
      );
      await refused(resizeImage(image, 16 * MiB, { FORCE: true } as object), /resizeImage: .*did you mean "force"/);
    } finally {
      await image.close();
    }
  });

  it("refuses forceShare for a writer", async () => {
    const path = await newImage();
    await expect(FileSource.open(path, { readOnly: false, forceShare: true })).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
    });
    await expect(openVhdx(path, { readOnly: false, forceShare: true })).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
    });
  });
});

describe.skipIf(!linux)("locks between our own processes", () => {
  it("holds QEMU's bytes while open, and none after close", async () => {
    const path = await newImage();
    const writer = await openVhdx(path, { readOnly: false });
    expect(locksOn(path)).toEqual(["READ 100-101", "READ 103-103", "READ 201-201", "READ 203-203"]);
    await writer.close();
    expect(locksOn(path)).toEqual([]);
    const reader = await openVhdx(path);
    expect(locksOn(path)).toEqual(["READ 100-100", "READ 201-201", "READ 203-203"]);
    await reader.close();
    const forced = await openVhdx(path, { forceShare: true });
    expect(locksOn(path)).toEqual(["READ 100-100"]);
    await forced.close();
  });

  it("refuses a writer and a reader while another process writes; forceShare reads", async () => {
    const path = await newImage();
    const held = await holder(path, { readOnly: false });
    expect(held.outcome).toBe("held");
    try {
      const error = await expectLocked(
        openVhdx(path, { readOnly: false }),
        /is open for writing by another program \(QEMU, a virtual machine, or another vhdx\); close that program first/,
      );
      expect(error.message).toContain(path);
      await expectLocked(openVhdx(path), /is open for writing by another program.*forceShare/);
      await expectLocked(FileSource.open(path, { readOnly: false }));
      const forced = await openVhdx(path, { forceShare: true });
      expect(forced.virtualSize).toBe(8 * MiB);
      await forced.close();
    } finally {
      await held.release();
    }
    // Released with the other process's close.
    await (await openVhdx(path, { readOnly: false })).close();
  });

  it("lets two readers share, and refuses a writer while one reads", async () => {
    const path = await newImage();
    const held = await holder(path, {});
    expect(held.outcome).toBe("held");
    try {
      const reader = await openVhdx(path);
      await reader.close();
      await expectLocked(openVhdx(path, { readOnly: false }), /is open by another program that does not allow writing/);
    } finally {
      await held.release();
    }
  });

  it("refuses a second writer in the same process until the first closes", async () => {
    const path = await newImage();
    const first = await openVhdx(path, { readOnly: false });
    await expectLocked(openVhdx(path, { readOnly: false }));
    await expectLocked(openVhdx(path));
    await first.close();
    const second = await openVhdx(path, { readOnly: false });
    await second.close();
  });

  it("holds the parents of a chain opened for writing as a reader", async () => {
    const base = await newImage();
    const childPath = dir.file(`child-${++count}.vhdx`);
    await (await createVhdx(childPath, { type: "differencing", parent: base })).close();
    const child = await openVhdx(childPath, { readOnly: false });
    try {
      const writer = await holder(base, { readOnly: false });
      expect(writer.outcome).toMatch(/^refused LOCKED .*does not allow writing/);
      const reader = await holder(base, {});
      expect(reader.outcome).toBe("held");
      await reader.release();
    } finally {
      await child.close();
    }
  });

  it("passes forceShare to the parents, and reports a locked parent as LOCKED", async () => {
    const base = await newImage();
    const childPath = dir.file(`child-${++count}.vhdx`);
    await (await createVhdx(childPath, { type: "differencing", parent: base })).close();
    const held = await holder(base, { readOnly: false });
    expect(held.outcome).toBe("held");
    try {
      await expectLocked(openVhdx(childPath), new RegExp(`cannot open ${base.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));
      const forced = await openVhdx(childPath, { forceShare: true });
      expect(forced.parent).not.toBeNull();
      await forced.close();
    } finally {
      await held.release();
    }
  });

  it("merges with the parent and the child locked for writing", async () => {
    const base = await newImage();
    const childPath = dir.file(`child-${++count}.vhdx`);
    const child = await createVhdx(childPath, { type: "differencing", parent: base });
    await child.write(0, new Uint8Array(4096).fill(7));
    await child.close();
    const reader = await holder(base, {});
    try {
      await expectLocked(mergeVhdx(childPath), /does not allow writing/);
    } finally {
      await reader.release();
    }
    const result = await mergeVhdx(childPath);
    expect(result.bytesCopied).toBe(4096);
    expect(locksOn(base)).toEqual([]);
  });
});

describe.skipIf(!qemu)("locks against qemu-io 7.2", () => {
  it("takes the bytes qemu-io takes", async () => {
    const path = await newImage();
    const expected: [string[], object][] = [
      [[], { readOnly: false }],
      [["-r"], {}],
      [["-r", "-U"], { forceShare: true }],
    ];
    for (const [flags, options] of expected) {
      const child = await qemuHolding(path, flags, 400);
      const theirs = locksOn(path);
      await new Promise((resolve) => child.on("exit", resolve));
      const image = await openVhdx(path, options);
      expect(locksOn(path)).toEqual(theirs);
      await image.close();
    }
  });

  it("refuses to write or read while qemu-io writes; forceShare reads", async () => {
    const path = dir.file(`qemu-${++count}.vhdx`);
    qemuCreate(path, { size: 8 * MiB, subformat: "dynamic" });
    await qemuHolding(path);
    await expectLocked(openVhdx(path, { readOnly: false }), /open for writing by another program/);
    await expectLocked(openVhdx(path), /open for writing by another program/);
    const forced = await openVhdx(path, { forceShare: true });
    await forced.close();
  });

  it("refuses qemu-io's writer and reader while we write; qemu-io -U reads", async () => {
    const path = await newImage();
    const image = await openVhdx(path, { readOnly: false });
    try {
      const write = qemuIo(path, [], "write -P 0xab 0 64k");
      expect(write.status).not.toBe(0);
      expect(write.stderr).toContain('Failed to get "write" lock');
      const read = qemuIo(path, ["-r"], "read 0 4k");
      expect(read.status).not.toBe(0);
      expect(read.stderr).toContain('Failed to get shared "write" lock');
      expect(qemuIo(path, ["-r", "-U"], "read 0 4k").status).toBe(0);
    } finally {
      await image.close();
    }
    expect(qemuIo(path, [], "write -P 0xab 0 64k").status).toBe(0);
  });

  it("shares with qemu-io's reader while we read, and refuses its writer", async () => {
    const path = await newImage();
    const image = await openVhdx(path);
    try {
      const write = qemuIo(path, [], "write -P 0xab 0 64k");
      expect(write.status).not.toBe(0);
      expect(write.stderr).toContain("Failed to get");
      expect(qemuIo(path, ["-r"], "read 0 4k").status).toBe(0);
    } finally {
      await image.close();
    }
  });

  it("reads alongside qemu-io's reader, and refuses to write then", async () => {
    const path = await newImage();
    await qemuHolding(path, ["-r"]);
    const reader = await openVhdx(path);
    await reader.close();
    await expectLocked(openVhdx(path, { readOnly: false }), /does not allow writing/);
  });
});
