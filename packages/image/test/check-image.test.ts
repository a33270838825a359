// checkImage and repairImage on sources a browser has too (memory, Blob):
// images this library makes, then the same bytes patched to break one rule at
// a time, a log left by a power cut, and random damage, which must end in
// findings or a VhdxError, never in another throw. `vhdx check --json` gives
// the same reports on the same bytes (packages/cli/test/check-library.test.ts).
import { isNilGuid } from "@vhdx/guid";
import {
  BAT_REGION_GUID,
  HEADER_1_OFFSET,
  HEADER_2_OFFSET,
  REGION_TABLE_1_OFFSET,
  REGION_TABLE_2_OFFSET,
  REGION_TABLE_SIZE,
  decodeHeader,
  decodeRegionTable,
} from "@vhdx/structs";
import { describe, expect, it } from "vitest";
import { portableBytesEqual } from "../src/check/bat-stream.js";
import {
  BlobSource,
  type CheckReport,
  MemorySource,
  VhdxError,
  checkImage,
  createImage,
  openImage,
  repairImage,
} from "../src/index.js";
import { FaultInjectingSource } from "../src/testing/index.js";

const MiB = 1 << 20;

/** A 64 MiB dynamic image with 1 MiB blocks; blocks 1, 5 and 9 hold data. */
async function dynamicImage(): Promise<Uint8Array> {
  const source = new MemorySource();
  const image = await createImage(source, { size: 64 * MiB, blockSize: MiB });
  for (const block of [1, 5, 9]) await image.write(block * MiB, new Uint8Array(MiB).fill(block));
  await image.close();
  return source.bytes();
}

function batOffset(bytes: Uint8Array): number {
  return decodeRegionTable(bytes, REGION_TABLE_1_OFFSET).entries.find((e) => e.guid === BAT_REGION_GUID)!.fileOffset;
}

function batEntry(bytes: Uint8Array, index: number): { state: number; mb: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  const low = view.getUint32(batOffset(bytes) + index * 8, true);
  return { state: low & 7, mb: (low >>> 20) + view.getUint32(batOffset(bytes) + index * 8 + 4, true) * 4096 };
}

function setBatEntry(bytes: Uint8Array, index: number, state: number, mb: number, reserved = 0): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  view.setUint32(batOffset(bytes) + index * 8, (state | (reserved << 3) | ((mb % 4096) << 20)) >>> 0, true);
  view.setUint32(batOffset(bytes) + index * 8 + 4, Math.floor(mb / 4096), true);
}

const check = (bytes: Uint8Array) => checkImage(new MemorySource(bytes.slice(), { readOnly: true }));
const rules = (report: CheckReport, list: "errors" | "warnings" = "errors") => report[list].map((f) => f.rule);

/** A dynamic image whose last write was cut off by a power cut after its log entry was flushed, before it was applied. */
async function imageWithLogToReplay(): Promise<Uint8Array> {
  const clean = await dynamicImage();
  for (let cut = 1; cut < 40; cut++) {
    const source = new FaultInjectingSource(clean, { cutAfterOperations: cut });
    try {
      const image = await openImage(source, { readOnly: false });
      await image.write(20 * MiB, new Uint8Array(MiB).fill(0x20));
      await image.close();
    } catch {
      // the power cut
    }
    const bytes = source.durableBytes();
    const header = [HEADER_1_OFFSET, HEADER_2_OFFSET]
      .map((at) => decodeHeader(bytes, at))
      .sort((a, b) => Number(b.sequenceNumber - a.sequenceNumber))[0]!;
    if (!isNilGuid(header.logGuid) && batEntry(bytes, 20).state !== 6) return bytes;
  }
  throw new Error("no power cut left a log to replay");
}

describe("checkImage on a sound image", () => {
  it("reports it clean, with its layout and counts", async () => {
    const report = await check(await dynamicImage());
    expect(report).toMatchObject({
      file: "memory",
      format: "vhdx",
      diskType: "dynamic",
      virtualSize: 64 * MiB,
      blockSize: MiB,
      logicalSectorSize: 512,
      clean: true,
      needsReplay: false,
      errors: [],
      warnings: [],
      errorCount: 0,
      warningCount: 0,
      leakedBytes: 0,
      allocatedBlocks: 3,
      totalBlocks: 64,
      parent: null,
      batBytes: 64 * 8,
    });
    expect(report.headerSlot).not.toBeNull();
    expect(report.regionTableCopy).toBe(1);
  });

  it("reads a Blob as it reads memory, and leaves the source open", async () => {
    const bytes = await dynamicImage();
    const blob = new BlobSource(new Blob([bytes]), "memory");
    expect(await checkImage(blob)).toEqual(await check(bytes));
    expect(await blob.read(new Uint8Array(8), 0)).toBe(8);
    await blob.close();
  });

  it("reports progress over the BAT, starting at 0", async () => {
    const calls: Array<[number, number]> = [];
    await checkImage(new MemorySource(await dynamicImage()), {
      onProgress: (done, total) => calls.push([done, total]),
    });
    expect(calls).toEqual([
      [0, 64],
      [64, 64],
    ]);
  });

  it("refuses what is not a VHDX, and unknown options", async () => {
    await expect(checkImage(new MemorySource(new Uint8Array(MiB)))).rejects.toMatchObject({ code: "NOT_VHDX" });
    const qcow2 = new Uint8Array(MiB);
    qcow2.set([0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 3]);
    await expect(checkImage(new MemorySource(qcow2))).rejects.toMatchObject({ code: "UNSUPPORTED_FORMAT" });
    await expect(checkImage(new MemorySource(await dynamicImage()), { paren: [] } as never)).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
    });
  });
});

describe("checkImage on damaged images", () => {
  it("one damaged header: a repairable warning; repairImage rewrites it and keeps DataWriteGuid", async () => {
    const bytes = await dynamicImage();
    const dataWriteGuid = decodeHeader(bytes, HEADER_1_OFFSET).dataWriteGuid;
    bytes[HEADER_2_OFFSET + 100]! ^= 0xff;
    const report = await check(bytes);
    expect(report.clean).toBe(true);
    expect(report.warnings).toMatchObject([
      {
        severity: "warning",
        rule: "HEADER_DAMAGED",
        code: "CHECKSUM_MISMATCH",
        offset: HEADER_2_OFFSET,
        repairable: true,
      },
    ]);

    const source = new MemorySource(bytes);
    expect((await repairImage(source)).repaired.map((r) => r.rule)).toEqual(["HEADER_DAMAGED"]);
    const after = await checkImage(source);
    expect(after.warnings).toEqual([]);
    for (const at of [HEADER_1_OFFSET, HEADER_2_OFFSET])
      expect(decodeHeader(source.bytes(), at).dataWriteGuid).toBe(dataWriteGuid);
  });

  it("a damaged region table copy 1: an error repairImage fixes from copy 2", async () => {
    const bytes = await dynamicImage();
    bytes[REGION_TABLE_1_OFFSET + 40]! ^= 0xff;
    const report = await check(bytes);
    expect(report.errors).toMatchObject([
      { rule: "REGION_TABLE_DAMAGED", code: "CHECKSUM_MISMATCH", offset: REGION_TABLE_1_OFFSET, repairable: true },
    ]);
    expect(report.regionTableCopy).toBe(2);
    const source = new MemorySource(bytes);
    expect(await repairImage(source)).toEqual({
      repaired: [{ rule: "REGION_TABLE_DAMAGED", message: "rewrote region table copy 1 (@0x30000) from copy 2" }],
      failed: [],
    });
    const repaired = source.bytes();
    const copy = (at: number) => repaired.subarray(at, at + REGION_TABLE_SIZE);
    expect(portableBytesEqual(copy(REGION_TABLE_1_OFFSET), copy(REGION_TABLE_2_OFFSET))).toBe(true);
    expect((await checkImage(source)).clean).toBe(true);
  });

  it("both headers damaged: NO_VALID_HEADER, nothing further", async () => {
    const bytes = await dynamicImage();
    bytes.fill(0, HEADER_1_OFFSET, HEADER_1_OFFSET + 4);
    bytes.fill(0, HEADER_2_OFFSET, HEADER_2_OFFSET + 4);
    const report = await check(bytes);
    expect(rules(report)).toEqual(["NO_VALID_HEADER"]);
    expect(report.headerSlot).toBeNull();
  });

  it("BAT entries: past the end of the file, over another block (named), over the BAT, in a reserved state", async () => {
    const bytes = await dynamicImage();
    const five = batEntry(bytes, 5).mb;
    setBatEntry(bytes, 1, 6, 1000);
    setBatEntry(bytes, 9, 6, five);
    setBatEntry(bytes, 12, 6, batOffset(bytes) / MiB);
    setBatEntry(bytes, 14, 4, 0);
    const report = await check(bytes);
    expect(rules(report)).toEqual(["BLOCK_PAST_EOF", "BLOCK_OVERLAPS_STRUCTURE", "BAD_BLOCK_STATE", "BLOCK_OVERLAP"]);
    expect(report.errors.every((f) => f.code === "CORRUPT_BAT" && f.structure === "BAT")).toBe(true);
    expect(report.errors[3]!.message).toMatch(/^payload block 9 \(entry 9\) .* overlaps payload block 5 \(entry 5, /);
    expect(report.errors[0]!.offset).toBe(batOffset(bytes) + 8);
  });

  it("reserved bits and the legacy UNMAPPED state are warnings; PARTIALLY_PRESENT outside a differencing disk an error", async () => {
    const bytes = await dynamicImage();
    const { mb } = batEntry(bytes, 1);
    setBatEntry(bytes, 1, 6, mb, 0x10);
    setBatEntry(bytes, 2, 5, 0);
    setBatEntry(bytes, 3, 7, 0);
    const report = await check(bytes);
    expect(rules(report, "warnings")).toEqual(["BAT_RESERVED_BITS", "LEGACY_UNMAPPED"]);
    expect(rules(report)).toEqual(["PARTIAL_NOT_DIFFERENCING"]);
  });

  it("a block no entry points at is leaked space, not an error", async () => {
    const bytes = await dynamicImage();
    const block = batEntry(bytes, 5).mb * MiB;
    setBatEntry(bytes, 5, 0, 0);
    const report = await check(bytes);
    expect(report.clean).toBe(true);
    expect(report.leakedBytes).toBe(MiB);
    expect(report.leakedRanges).toEqual([{ offset: block, length: MiB }]);
  });

  it("lists at most 100 findings of a rule and counts them all", async () => {
    const many = await checkImage(new MemorySource(await manyBadEntries(150)));
    expect(many.errorCount).toBe(150);
    expect(many.errors).toHaveLength(100);
    expect(many.omittedErrors).toBe(50);
  });

  it("a file cut short inside the BAT: findings, not a throw", async () => {
    const bytes = await dynamicImage();
    const report = await check(bytes.subarray(0, batOffset(bytes) + 100));
    expect(report.clean).toBe(false);
    expect(rules(report)).toContain("BAT_PAST_EOF");
  });
});

/** A dynamic image of 256 MiB whose first `count` BAT entries have the reserved state 4. */
async function manyBadEntries(count: number): Promise<Uint8Array> {
  const source = new MemorySource();
  await (await createImage(source, { size: 256 * MiB, blockSize: MiB })).close();
  const bytes = source.bytes();
  const at = batOffset(bytes);
  for (let i = 0; i < count; i++) bytes[at + i * 8] = 4;
  return bytes;
}

describe("a log left to replay", () => {
  it("is a repairable error; the check sees the file replayed in memory and writes nothing; repairImage replays it", async () => {
    const bytes = await imageWithLogToReplay();
    const source = new MemorySource(bytes.slice());
    const report = await checkImage(source);
    expect(report.needsReplay).toBe(true);
    expect(report.errors).toMatchObject([
      { rule: "LOG_REPLAY_NEEDED", code: "LOG_REPLAY_NEEDED", structure: "header", repairable: true },
    ]);
    expect(portableBytesEqual(source.bytes(), bytes)).toBe(true);

    const result = await repairImage(source);
    expect(result).toEqual({
      repaired: [{ rule: "LOG_REPLAY_NEEDED", message: "replayed the log into the file and cleared LogGuid" }],
      failed: [],
    });
    const after = await checkImage(source);
    expect(after.needsReplay).toBe(false);
    expect(after.clean).toBe(true);
  });

  it("repairImage refuses a read-only source", async () => {
    const bytes = await imageWithLogToReplay();
    await expect(repairImage(new BlobSource(new Blob([bytes])))).rejects.toMatchObject({ code: "READ_ONLY" });
  });
});

describe("random damage", () => {
  it("ends in a report or a VhdxError, never another error", async () => {
    const sound = await dynamicImage();
    const bat = batOffset(sound);
    let seed = 2024;
    const random = (n: number) => Math.floor(((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) * n);
    const areas = [
      [0, 320 * 1024],
      [bat - MiB, MiB + 64 * 1024],
      [bat, 64 * 8],
    ] as const;
    for (let n = 0; n < 150; n++) {
      const bytes = sound.slice();
      const [start, length] = areas[n % areas.length]!;
      for (let k = 0; k < 1 + random(8); k++) bytes[start + random(length)] = random(256);
      const cut = n % 7 === 0 ? random(bytes.length) : bytes.length;
      try {
        const report = await check(bytes.subarray(0, cut));
        expect(report.errorCount).toBeGreaterThanOrEqual(report.errors.length);
      } catch (error) {
        if (!VhdxError.isInstance(error)) throw error;
      }
    }
  });
});

describe("portableBytesEqual", () => {
  it("compares whole words, or bytes when the arrays are not aligned", () => {
    const a = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const b = a.slice();
    expect(portableBytesEqual(a, b)).toBe(true);
    expect(portableBytesEqual(a.subarray(1), b.subarray(1))).toBe(true);
    b[8] = 0;
    expect(portableBytesEqual(a, b)).toBe(false);
    expect(portableBytesEqual(a.subarray(0, 8), b.subarray(0, 8))).toBe(true);
    expect(portableBytesEqual(a.subarray(0, 4), b.subarray(0, 8))).toBe(false);
  });
});
