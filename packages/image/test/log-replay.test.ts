// Images with a log to replay. Real ones from QEMU (blkdebug fails the write
// that applies a log entry, so the entry stays in the log with LogGuid set),
// checked against `qemu-img check -r all` + `qemu-img convert`; and ones made
// here with @vhdx/log's writer, checked against the generator's model.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { STATE, buildVhdx } from "@vhdx-tools/fixtures";
import { LogWriter, type LogUpdate } from "@vhdx/log";
import { decodeHeader, encodeHeader } from "@vhdx/structs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemorySource, VhdxError, openImage } from "../src/index.js";
import { openVhdx } from "../src/node/index.js";

const MiB = 1 << 20;
const LOG_GUID = "5a5a5a5a-1111-4222-8333-444455556666";
const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

function requireTool(name: string): boolean {
  try {
    execFileSync(name, ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    if (process.env.CI) throw new Error(`${name} is required in CI (apt-get install qemu-utils)`);
    return false;
  }
}
const hasQemu = requireTool("qemu-img");

describe.skipIf(!hasQemu)("dirty logs left by QEMU", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "vhdx-dirty-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** An image whose last qemu-io write could not apply its log entry to the BAT. */
  function dirtyImage(name: string, before: string[], failing: string, batSector = 4096) {
    const path = join(dir, `${name}.vhdx`);
    execFileSync("qemu-img", ["create", "-q", "-f", "vhdx", "-o", "subformat=dynamic,block_size=1M", path, "64M"]);
    if (before.length > 0) execFileSync("qemu-io", [...before.flatMap((c) => ["-c", c]), path], { stdio: "pipe" });
    const config = join(dir, `${name}.blkdebug`);
    writeFileSync(
      config,
      `[inject-error]\nevent = "pwritev"\niotype = "write"\nerrno = "5"\nsector = "${batSector}"\nonce = "on"\n`,
    );
    try {
      execFileSync("qemu-io", ["-c", failing, `blkdebug:${config}:${path}`], { stdio: "pipe" });
    } catch {
      // the injected failure makes qemu-io report the write as failed
    }
    const header = decodeHeader(new Uint8Array(readFileSync(path)), 0x20000);
    expect(header.logGuid).not.toBe("00000000-0000-0000-0000-000000000000");
    return path;
  }

  /** What QEMU reads after replaying a copy of the image itself. */
  function qemuReplayedContents(path: string): Uint8Array {
    const copy = `${path}.qemu-copy.vhdx`;
    const raw = `${path}.raw`;
    copyFileSync(path, copy);
    execFileSync("qemu-img", ["check", "-q", "-r", "all", copy], { stdio: "pipe" });
    execFileSync("qemu-img", ["convert", "-O", "raw", copy, raw]);
    return new Uint8Array(readFileSync(raw));
  }

  const cases: Array<[string, string[], string]> = [
    ["one block", ["write -P 0x11 5M 64k"], "write -P 0x33 0 64k"],
    ["three blocks in one entry", ["write -P 0x22 1M 1M"], "write -P 0x44 7M 3M"],
    ["partial block", [], "write -P 0x55 9M 4k"],
  ];

  it.each(cases)(
    "a read-only open reads what qemu-img check -r all replays (%s), without writing",
    async (name, before, failing) => {
      const path = dirtyImage(name.replace(/\W/g, "-"), before, failing);
      const expected = qemuReplayedContents(path);
      const hash = sha256(path);
      const image = await openVhdx(path);
      expect(image.logReplay).toBe("memory");
      expect(image.needsReplay).toBe(true);
      expect(Buffer.compare(await image.read(0, image.virtualSize), expected)).toBe(0);
      await image.close();
      expect(sha256(path)).toBe(hash);
    },
  );

  it.each(cases)(
    "a read-write open replays on disk and QEMU then finds the image clean (%s)",
    async (name, before, failing) => {
      const path = dirtyImage(`rw-${name.replace(/\W/g, "-")}`, before, failing);
      const expected = qemuReplayedContents(path);
      const image = await openVhdx(path, { readOnly: false });
      expect(image.logReplay).toBe("disk");
      expect(Buffer.compare(await image.read(0, image.virtualSize), expected)).toBe(0);
      await image.close();
      const check = execFileSync("qemu-img", ["check", path], { encoding: "utf8" });
      expect(check).toMatch(/No errors were found/);
      const raw = `${path}.after.raw`;
      execFileSync("qemu-img", ["convert", "-O", "raw", path, raw]);
      expect(Buffer.compare(new Uint8Array(readFileSync(raw)), expected)).toBe(0);
      const reopened = await openVhdx(path);
      expect(reopened.logReplay).toBeNull();
      await reopened.close();
    },
  );
});

/**
 * A dynamic image whose BAT on disk still says block `late` is not present,
 * while its data is already in the file and a log entry (written here) holds
 * the BAT sector that makes it present: the state a crash between "log
 * flushed" and "log applied" leaves behind.
 */
function imageWithPendingBatUpdate(
  options: { logicalSectorSize?: 512 | 4096; entries?: number; ringOffset?: number } = {},
) {
  const after = buildVhdx({
    virtualSize: 16 * MiB,
    blockSize: MiB,
    logicalSectorSize: options.logicalSectorSize ?? 512,
    type: "dynamic",
    blocks: { 0: { state: STATE.FULLY_PRESENT }, 6: { state: STATE.FULLY_PRESENT }, 9: { state: STATE.FULLY_PRESENT } },
  });
  const bytes = after.bytes.slice();
  const batSector = after.bytes.slice(after.offsets.bat, after.offsets.bat + 4096);
  const stale = batSector.slice();
  stale.fill(0, 6 * 8, 6 * 8 + 8);
  stale.fill(0, 9 * 8, 9 * 8 + 8);
  bytes.set(stale, after.offsets.bat);
  const logLength = MiB;
  const ring = new Uint8Array(logLength);
  const writer = new LogWriter({
    logLength,
    logGuid: LOG_GUID,
    nextOffset: options.ringOffset ?? 0,
    nextSequenceNumber: 40n,
  });
  const entries = options.entries ?? 1;
  const fileSize = bytes.length;
  for (let i = 0; i < entries; i++) {
    const updates: LogUpdate[] =
      i === entries - 1
        ? [{ fileOffset: after.offsets.bat, data: batSector }]
        : [{ fileOffset: after.offsets.bat, data: stale }];
    const { pieces } = writer.append(updates, { flushedFileOffset: fileSize, lastFileOffset: fileSize });
    for (const piece of pieces) ring.set(piece.bytes, piece.ringOffset);
  }
  bytes.set(ring, after.offsets.log);
  setLogGuid(bytes, LOG_GUID);
  return { bytes, after };
}

function setLogGuid(bytes: Uint8Array, logGuid: string) {
  for (const offset of [0x10000, 0x20000]) {
    const header = decodeHeader(bytes, offset);
    bytes.set(encodeHeader({ ...header, logGuid }), offset);
  }
}

describe("logs written with @vhdx/log's writer", () => {
  it("replays a pending BAT update in memory on a read-only open, leaving the bytes alone", async () => {
    const { bytes, after } = imageWithPendingBatUpdate();
    const copy = bytes.slice();
    const image = await openImage(new MemorySource(bytes));
    expect(image.logReplay).toBe("memory");
    expect(Buffer.compare(await image.read(0, image.virtualSize), after.expected)).toBe(0);
    expect(Buffer.compare(bytes, copy)).toBe(0);
  });

  it("without the log the same file reads the blocks as absent (the test can fail)", async () => {
    const { bytes, after } = imageWithPendingBatUpdate();
    setLogGuid(bytes, "00000000-0000-0000-0000-000000000000");
    const image = await openImage(new MemorySource(bytes));
    expect((await image.read(6 * MiB, MiB)).every((b) => b === 0)).toBe(true);
    expect(Buffer.compare(await image.read(6 * MiB, MiB), after.expectedAt(6 * MiB, MiB))).not.toBe(0);
  });

  it("replays on disk on a read-write open and clears LogGuid through both headers", async () => {
    const { bytes, after } = imageWithPendingBatUpdate();
    const source = new MemorySource(bytes);
    const image = await openImage(source, { readOnly: false });
    expect(image.logReplay).toBe("disk");
    expect(Buffer.compare(await image.read(0, image.virtualSize), after.expected)).toBe(0);
    const written = source.bytes();
    for (const offset of [0x10000, 0x20000])
      expect(decodeHeader(written, offset).logGuid).toBe("00000000-0000-0000-0000-000000000000");
    const again = await openImage(new MemorySource(written.slice()));
    expect(again.logReplay).toBeNull();
    expect(Buffer.compare(await again.read(0, again.virtualSize), after.expected)).toBe(0);
  });

  it("replays the newest of several entries and a sequence that wraps around the ring", async () => {
    for (const ringOffset of [0, MiB - 4096, MiB - 8192]) {
      const { bytes, after } = imageWithPendingBatUpdate({ entries: 3, ringOffset });
      const image = await openImage(new MemorySource(bytes));
      expect(Buffer.compare(await image.read(0, image.virtualSize), after.expected), `ring offset ${ringOffset}`).toBe(
        0,
      );
    }
  });

  it("replays with 4096-byte logical sectors", async () => {
    const { bytes, after } = imageWithPendingBatUpdate({ logicalSectorSize: 4096 });
    const image = await openImage(new MemorySource(bytes));
    expect(image.logicalSectorSize).toBe(4096);
    expect(Buffer.compare(await image.read(0, image.virtualSize), after.expected)).toBe(0);
  });

  it("refuses a log with no valid sequence (LOG_CORRUPT)", async () => {
    const { bytes, after } = imageWithPendingBatUpdate();
    bytes.fill(0, after.offsets.log, after.offsets.log + MiB);
    const error = await openImage(new MemorySource(bytes)).catch((e: unknown) => e);
    expect(VhdxError.isInstance(error) && error.code).toBe("LOG_CORRUPT");
  });

  it("refuses a file shorter than the log's FlushedFileOffset (TRUNCATED)", async () => {
    const { bytes } = imageWithPendingBatUpdate();
    const error = await openImage(new MemorySource(bytes.slice(0, bytes.length - MiB))).catch((e: unknown) => e);
    expect(VhdxError.isInstance(error) && error.code).toBe("TRUNCATED");
  });

  it("refuses a log entry that would write over the headers or the log itself (LOG_CORRUPT)", async () => {
    for (const target of ["headers", "log"] as const) {
      const { bytes, after } = imageWithPendingBatUpdate();
      const ring = new Uint8Array(MiB);
      const writer = new LogWriter({ logLength: MiB, logGuid: LOG_GUID, nextOffset: 0, nextSequenceNumber: 1n });
      const fileOffset = target === "headers" ? 0x10000 : after.offsets.log + 8192;
      const { pieces } = writer.append([{ fileOffset, data: new Uint8Array(4096).fill(7) }], {
        flushedFileOffset: bytes.length,
        lastFileOffset: bytes.length,
      });
      for (const piece of pieces) ring.set(piece.bytes, piece.ringOffset);
      bytes.set(ring, after.offsets.log);
      const error = await openImage(new MemorySource(bytes)).catch((e: unknown) => e);
      expect(VhdxError.isInstance(error) && error.code, `${target}: ${String(error)}`).toBe("LOG_CORRUPT");
    }
  });

  it("refuses a log whose LastFileOffset would grow the file past what any VHDX needs (LOG_CORRUPT), and opens a plausible one", async () => {
    const logWith = (lastFileOffset: number) => {
      const { bytes, after } = imageWithPendingBatUpdate();
      const ring = new Uint8Array(MiB);
      const writer = new LogWriter({ logLength: MiB, logGuid: LOG_GUID, nextOffset: 0, nextSequenceNumber: 1n });
      const batSector = after.bytes.slice(after.offsets.bat, after.offsets.bat + 4096);
      const { pieces } = writer.append([{ fileOffset: after.offsets.bat, data: batSector }], {
        flushedFileOffset: bytes.length,
        lastFileOffset,
      });
      for (const piece of pieces) ring.set(piece.bytes, piece.ringOffset);
      bytes.set(ring, after.offsets.log);
      return { bytes, after };
    };
    const hostile = logWith(2 ** 53 - MiB);
    const error = await openImage(new MemorySource(hostile.bytes)).catch((e: unknown) => e);
    expect(VhdxError.isInstance(error) && [error.code, error.offset]).toEqual([
      "LOG_CORRUPT",
      hostile.after.offsets.log,
    ]);
    const plausible = logWith(hostile.bytes.length + 64 * MiB);
    const image = await openImage(new MemorySource(plausible.bytes));
    expect(await image.source.size()).toBe(plausible.bytes.length + 64 * MiB);
    expect(Buffer.compare(await image.read(0, image.virtualSize), plausible.after.expected)).toBe(0);
  });

  it("refuses a log outside the file", async () => {
    const { bytes } = imageWithPendingBatUpdate();
    for (const offset of [0x10000, 0x20000]) {
      const header = decodeHeader(bytes, offset);
      bytes.set(encodeHeader({ ...header, logOffset: 1024 * MiB }), offset);
    }
    const error = await openImage(new MemorySource(bytes)).catch((e: unknown) => e);
    expect(VhdxError.isInstance(error) && ["TRUNCATED", "REGION_OVERLAP"].includes(error.code)).toBe(true);
  });
});
