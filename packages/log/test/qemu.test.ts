// Real bytes: logs QEMU wrote (qemu-img and qemu-io from Debian's qemu-utils),
// read with this package; and an entry this package wrote, replayed by QEMU.
// QEMU writes one entry per metadata update, each its own tail and under a
// fresh LogGuid, and applies it at once; 140 block allocations take it round
// the 1 MiB log and past its end. A missing qemu-img skips these tests, except
// under CI, where it fails them.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { guidFromBytes, randomGuid } from "@vhdx/guid";
import { decodeHeader, encodeHeader } from "@vhdx/structs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findActiveSequence, LogWriter, planReplay, readLogEntry } from "../src/index.js";
import { MiB, SECTOR } from "./helpers.js";

function hasQemu(): boolean {
  try {
    execFileSync("qemu-img", ["--version"], { stdio: "pipe" });
    return true;
  } catch {
    if (process.env.CI === "true") throw new Error("qemu-img is missing; CI needs it (apt-get install -y qemu-utils)");
    return false;
  }
}

const WRITES = 140;
const available = hasQemu();
let dir = "";
let image = "";

beforeAll(() => {
  if (!available) return;
  dir = mkdtempSync(join(tmpdir(), "vhdx-log-"));
  image = join(dir, "wrapped.vhdx");
  execFileSync("qemu-img", ["create", "-q", "-f", "vhdx", "-o", "subformat=dynamic,block_size=1M", image, "1G"]);
  // One new block per write (every 4th block), so one log entry per write.
  const commands = Array.from({ length: WRITES }, (_, i) => ["-c", `write -P 0x11 ${i * 4}M 4k`]).flat();
  execFileSync("qemu-io", [...commands, image], { stdio: "pipe" });
});
afterAll(() => {
  if (dir !== "") rmSync(dir, { recursive: true, force: true });
});

function currentHeader(file: Uint8Array) {
  const headers = [decodeHeader(file, 64 * 1024), decodeHeader(file, 128 * 1024)];
  return headers[0]!.sequenceNumber > headers[1]!.sequenceNumber
    ? { at: 64 * 1024, header: headers[0]! }
    : { at: 128 * 1024, header: headers[1]! };
}

describe.skipIf(!available)("logs written by QEMU", () => {
  it("every entry is valid under its own LogGuid, is its own active sequence, and the newest matches the file", () => {
    const file = new Uint8Array(readFileSync(image));
    const { header } = currentHeader(file);
    expect(header.logGuid).toBe("00000000-0000-0000-0000-000000000000"); // applied: nothing to replay
    const ring = file.subarray(header.logOffset, header.logOffset + header.logLength);
    const found: Array<{ offset: number; guid: string; sequenceNumber: bigint }> = [];
    for (let offset = 0; offset < ring.length; offset += SECTOR) {
      if (ring[offset] !== 0x6c) continue; // "l" of "loge"
      const guid = guidFromBytes(ring, offset + 32);
      const check = readLogEntry(ring, offset, guid);
      expect(check.ok, `entry at ${offset}`).toBe(true);
      if (!check.ok) continue;
      const sequence = findActiveSequence(ring, guid);
      expect(sequence?.entries.map((e) => e.offset)).toEqual([offset]);
      expect(
        check.entry.descriptors.every((d) => d.kind === "data" && d.fileOffset >= 2 * MiB && d.fileOffset < 3 * MiB),
      ).toBe(true);
      found.push({ offset, guid, sequenceNumber: check.entry.header.sequenceNumber });
    }
    expect(found.length).toBe(ring.length / (2 * SECTOR)); // 8 KiB entries fill the ring
    const newest = found.reduce((a, b) => (b.sequenceNumber > a.sequenceNumber ? b : a));
    expect(newest.sequenceNumber).toBe(BigInt(WRITES));
    expect(newest.offset).toBeLessThan(ring.length / 2); // it went round
    const plan = planReplay(ring, newest.guid, file.length, header.logOffset);
    for (const op of plan.operations) {
      expect(op.kind).toBe("write");
      if (op.kind === "write")
        expect(Buffer.compare(op.data, file.subarray(op.fileOffset, op.fileOffset + SECTOR))).toBe(0);
    }
  });

  it("QEMU replays an entry LogWriter wrote over the ring's end: a data update and a zero update", () => {
    const copy = join(dir, "replay.vhdx");
    const file = new Uint8Array(readFileSync(image));
    const { at, header } = currentHeader(file);
    const batOffset = 2 * MiB; // where qemu-img puts the BAT
    const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
    const block0 = view.getBigUint64(batOffset, true); // block 0: FULLY_PRESENT, 0x11 in its first 4 KiB
    const block4Offset = Number(view.getBigUint64(batOffset + 4 * 8, true) >> 20n) * MiB;
    expect(Number(block0 & 7n)).toBe(6);

    // Through the log: block 1 points where block 0 is, and block 4's first 4 KiB become zeros.
    const batSector = file.slice(batOffset, batOffset + SECTOR);
    new DataView(batSector.buffer).setBigUint64(8, block0, true);
    const logGuid = randomGuid();
    const writer = new LogWriter({
      logLength: header.logLength,
      logGuid,
      nextOffset: header.logLength - SECTOR,
      nextSequenceNumber: 1n,
    });
    const { pieces } = writer.append(
      [
        { fileOffset: batOffset, data: batSector },
        { fileOffset: block4Offset, zeroLength: SECTOR },
      ],
      { flushedFileOffset: file.length, lastFileOffset: file.length },
    );
    expect(pieces).toHaveLength(2);
    for (const p of pieces) file.set(p.bytes, header.logOffset + p.ringOffset);
    file.set(encodeHeader({ ...header, logGuid }), at);

    // Our plan first.
    const plan = planReplay(
      file.subarray(header.logOffset, header.logOffset + header.logLength),
      logGuid,
      file.length,
      header.logOffset,
    );
    expect(plan.operations.map((o) => [o.kind, o.fileOffset])).toEqual([
      ["write", batOffset],
      ["zero", block4Offset],
    ]);
    writeFileSync(copy, file);

    // QEMU replays the log when it opens the file read-write.
    execFileSync("qemu-img", ["check", "-r", "all", copy], { stdio: "pipe" });
    const after = new Uint8Array(readFileSync(copy));
    expect(currentHeader(after).header.logGuid).toBe("00000000-0000-0000-0000-000000000000");
    expect(Buffer.compare(after.subarray(batOffset, batOffset + SECTOR), batSector)).toBe(0);
    expect(after.subarray(block4Offset, block4Offset + SECTOR).every((b) => b === 0)).toBe(true);
    execFileSync("qemu-io", ["-r", "-c", "read -P 0x11 1M 4k", "-c", "read -P 0 4M 4k", copy], { stdio: "pipe" });
  });
});
