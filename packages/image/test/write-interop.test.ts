// Writes that QEMU must agree with, and QEMU writes we must agree with: images
// QEMU created and wrote are written by us, read back by QEMU (qemu-io read -P,
// qemu-img convert) and checked (qemu-img check), then written by QEMU again
// and read by us. Also: a read-write session without writes leaves the file
// byte for byte as it was, and one with a write follows the header protocol.
import { createHash } from "node:crypto";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { type Header, VhdxError, decodeHeader, verifyHeaderChecksum } from "@vhdx/structs";
import { STATE, buildVhdx } from "@vhdx-tools/fixtures";
import { afterAll, describe, expect, it } from "vitest";
import { openVhdx } from "../src/node/index.js";
import { oracles, qemuCheck, qemuConvertToRaw, qemuCreate, qemuIo, run, tempDir } from "@vhdx-tools/oracles";

const KiB = 1024;
const MiB = 1 << 20;
const GiB = 1 << 30;
const NIL = "00000000-0000-0000-0000-000000000000";

const dir = tempDir("vhdx-write-interop-");
afterAll(() => dir.remove());

// ---------------------------------------------------------------- helpers

/** A sparse model of a virtual disk: only the windows a test touches are kept (the rest reads zeros). */
class WindowModel {
  readonly windows: Array<{ offset: number; bytes: Uint8Array }> = [];
  constructor(windows: Array<[offset: number, length: number]>) {
    for (const [offset, length] of windows) this.windows.push({ offset, bytes: new Uint8Array(length) });
  }
  private each(offset: number, length: number, visit: (bytes: Uint8Array, from: number, to: number) => void): void {
    let covered = 0;
    for (const w of this.windows) {
      const from = Math.max(offset, w.offset);
      const to = Math.min(offset + length, w.offset + w.bytes.length);
      if (from < to) {
        visit(w.bytes, from - w.offset, to - w.offset);
        covered += to - from;
      }
    }
    if (covered !== length) throw new Error(`test bug: [${offset}, +${length}) is not inside the model's windows`);
  }
  fill(value: number, offset: number, length: number): void {
    this.each(offset, length, (bytes, from, to) => bytes.fill(value, from, to));
  }
  set(data: Uint8Array, offset: number): void {
    let at = 0;
    this.each(offset, data.length, (bytes, from, to) => {
      bytes.set(data.subarray(at, at + to - from), from);
      at += to - from;
    });
  }
  read(offset: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    let at = 0;
    this.each(offset, length, (bytes, from, to) => {
      out.set(bytes.subarray(from, to), at);
      at += to - from;
    });
    return out;
  }
}

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

function expectSameBytes(actual: Uint8Array, expected: Uint8Array, what: string, baseOffset = 0): void {
  if (actual.length === expected.length && Buffer.compare(actual, expected) === 0) return;
  const at = firstDifference(actual, expected);
  const show = (b: Uint8Array) => Buffer.from(b.subarray(at, at + 16)).toString("hex");
  throw new Error(
    `${what}: ${actual.length} bytes vs ${expected.length} expected; first difference at virtual offset ${baseOffset + at}\n` +
      `  got      ${show(actual)}\n  expected ${show(expected)}`,
  );
}

/**
 * qemu-io read -P commands that verify [offset, offset+length) of the model:
 * one per run of equal bytes. QEMU fails the session when a pattern is wrong.
 */
function qemuVerify(path: string, model: WindowModel, ranges: Array<[number, number]>): void {
  const commands: string[] = [];
  for (const [offset, length] of ranges) {
    const bytes = model.read(offset, length);
    for (let start = 0; start < bytes.length; ) {
      let end = start + 1;
      while (end < bytes.length && bytes[end] === bytes[start]) end++;
      commands.push(`read -P 0x${bytes[start]!.toString(16)} ${offset + start} ${end - start}`);
      start = end;
    }
  }
  if (commands.length > 400) throw new Error(`test bug: ${commands.length} qemu-io commands`);
  qemuIo(path, commands, { readOnly: true });
}

/** What QEMU reads at [offset, offset+length): a raw driver window over the VHDX, converted to a file. */
function qemuWindow(path: string, offset: number, length: number): Uint8Array {
  const out = dir.file(`window-${offset}-${length}.raw`);
  const opts = `driver=raw,offset=${offset},size=${length},file.driver=vhdx,file.file.filename=${path}`;
  run("qemu-img", ["convert", "--image-opts", opts, "-O", "raw", out]);
  const bytes = new Uint8Array(readFileSync(out));
  expect(bytes.length).toBe(length);
  return bytes;
}

function qemuWhole(path: string, name: string): Uint8Array {
  const raw = dir.file(`${name}.raw`);
  qemuConvertToRaw(path, raw);
  return new Uint8Array(readFileSync(raw));
}

function sha256(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

function headersOf(path: string): { slot1: Header; slot2: Header; valid1: boolean; valid2: boolean } {
  const bytes = new Uint8Array(readFileSync(path).subarray(0, 3 * 64 * KiB));
  const valid = (offset: number) =>
    verifyHeaderChecksum(bytes, offset) && decodeHeader(bytes, offset).signature === "head";
  return {
    slot1: decodeHeader(bytes, 64 * KiB),
    slot2: decodeHeader(bytes, 128 * KiB),
    valid1: valid(64 * KiB),
    valid2: valid(128 * KiB),
  };
}

function currentHeader(path: string): Header {
  const h = headersOf(path);
  if (h.valid1 && h.valid2) return h.slot1.sequenceNumber > h.slot2.sequenceNumber ? h.slot1 : h.slot2;
  if (h.valid1) return h.slot1;
  if (h.valid2) return h.slot2;
  throw new Error(`${path}: no valid header`);
}

function pattern(value: number, length: number): Uint8Array {
  return new Uint8Array(length).fill(value);
}

// ---------------------------------------------------------------- QEMU writes, we write, QEMU reads and writes, we read

interface RoundTripCase {
  label: string;
  subformat: "fixed" | "dynamic";
  blockSize: number;
  size: number;
  blockStateZero?: boolean;
}

const ROUND_TRIPS: RoundTripCase[] = [
  { label: "dynamic, QEMU's default block size", subformat: "dynamic", blockSize: 8 * MiB, size: 76 * MiB + 3 * 512 },
  { label: "dynamic, 1 MiB blocks", subformat: "dynamic", blockSize: MiB, size: 20 * MiB + 512 },
  {
    label: "dynamic, block_state_zero=off (NOT_PRESENT blocks)",
    subformat: "dynamic",
    blockSize: 2 * MiB,
    size: 20 * MiB + 2048,
    blockStateZero: false,
  },
  {
    label: "fixed, block_state_zero=on (ZERO blocks we must allocate)",
    subformat: "fixed",
    blockSize: 2 * MiB,
    size: 24 * MiB + 1024,
    blockStateZero: true,
  },
  {
    label: "fixed, block_state_zero=off",
    subformat: "fixed",
    blockSize: 2 * MiB,
    size: 24 * MiB + 1024,
    blockStateZero: false,
  },
];

describe.skipIf(!oracles("qemu-img", "qemu-io"))("QEMU and @vhdx/image take turns writing", () => {
  for (const c of ROUND_TRIPS) {
    it(c.label, async () => {
      const { blockSize: B, size } = c;
      const path = dir.file(`turns-${c.subformat}-${B}-${c.blockStateZero}.vhdx`);
      qemuCreate(path, {
        size,
        subformat: c.subformat,
        blockSize: B,
        ...(c.blockStateZero === undefined ? {} : { blockStateZero: c.blockStateZero }),
      });
      const model = new WindowModel([[0, size]]);
      const fixed = c.subformat === "fixed";

      // 1. QEMU writes.
      const qemuFirst: Array<[string, () => void]> = [
        [`write -P 0x11 0 ${B}`, () => model.fill(0x11, 0, B)],
        [`write -P 0x22 ${2 * B + 512} ${300 * KiB}`, () => model.fill(0x22, 2 * B + 512, 300 * KiB)],
        [`write -P 0x33 ${4 * B} ${2 * B}`, () => model.fill(0x33, 4 * B, 2 * B)],
        [`write -z ${4 * B + 4096} ${B}`, () => model.fill(0, 4 * B + 4096, B)],
        [`write -P 0x44 ${size - 4096} 4096`, () => model.fill(0x44, size - 4096, 4096)],
      ];
      qemuIo(
        path,
        qemuFirst.map(([command]) => command),
      );
      for (const [, apply] of qemuFirst) apply();
      qemuCheck(path);

      // 2. We read QEMU's writes, then write.
      const image = await openVhdx(path, { readOnly: false });
      expect(image.diskType).toBe(c.subformat);
      expectSameBytes(await image.read(0, size), model.read(0, size), "our read of what QEMU wrote");
      const ours: Array<[string, () => Promise<void>, () => void]> = [
        // Unaligned, inside QEMU's block 0.
        [
          "write 0xa1 unaligned in a QEMU block",
          () => image.write(123_457, pattern(0xa1, 70_001)),
          () => model.fill(0xa1, 123_457, 70_001),
        ],
        // Across the boundary between QEMU's block 0 and the unallocated block 1.
        [
          "write 0xa2 across a block boundary",
          () => image.write(B - 5000, pattern(0xa2, 12_345)),
          () => model.fill(0xa2, B - 5000, 12_345),
        ],
        // A block nobody wrote (NOT_PRESENT, or ZERO in a fixed image with block_state_zero=on).
        [
          "write 0xa3 in a fresh block",
          () => image.write(3 * B + 777, pattern(0xa3, 4096)),
          () => model.fill(0xa3, 3 * B + 777, 4096),
        ],
        // A whole block.
        ["write 0xa4 a whole block", () => image.write(6 * B, pattern(0xa4, B)), () => model.fill(0xa4, 6 * B, B)],
        // Zeros over part of QEMU's data, and over all of one of QEMU's blocks.
        ["writeZeroes partial", () => image.writeZeroes(2 * B + 1000, 2000), () => model.fill(0, 2 * B + 1000, 2000)],
        ["writeZeroes whole block", () => image.writeZeroes(5 * B, B), () => model.fill(0, 5 * B, B)],
        // Over the zeros QEMU wrote with write -z.
        [
          "write 0xa5 over QEMU's write -z",
          () => image.write(4 * B + 8192, pattern(0xa5, 512)),
          () => model.fill(0xa5, 4 * B + 8192, 512),
        ],
        // The last, partial block, up to the end of the disk.
        [
          "write 0xa6 at the end",
          () => image.write(size - 1536, pattern(0xa6, 1536)),
          () => model.fill(0xa6, size - 1536, 1536),
        ],
        // Discard: a whole block of QEMU's data (zeros in a dynamic disk, unchanged in a fixed one) and part of ours.
        [
          "discard a whole block",
          async () => void (await image.discard(0, B)),
          () => (fixed ? undefined : model.fill(0, 0, B)),
        ],
        ["discard part of a block", async () => void (await image.discard(6 * B + 4096, 8192)), () => undefined],
      ];
      for (const [what, op, apply] of ours) {
        await op();
        apply();
        expectSameBytes(await image.read(0, size), model.read(0, size), `our read after "${what}"`);
      }
      await image.close();

      // 3. QEMU reads what we wrote.
      qemuCheck(path);
      qemuVerify(path, model, [
        [0, B + 16 * KiB],
        [2 * B, 400 * KiB],
        [3 * B, 8 * KiB],
        [4 * B, 3 * B],
        [size - 8192, 8192],
      ]);
      expectSameBytes(
        qemuWhole(path, `turns-${c.label.length}-a`),
        model.read(0, size),
        "qemu-img convert after our writes",
      );

      // 4. QEMU writes on top of our blocks and into new ones.
      const qemuSecond: Array<[string, () => void]> = [
        [`write -P 0xb1 ${3 * B} 8192`, () => model.fill(0xb1, 3 * B, 8192)],
        [`write -P 0xb2 ${6 * B + 512} ${B / 2}`, () => model.fill(0xb2, 6 * B + 512, B / 2)],
        [`write -P 0xb3 ${8 * B + 4096} 65536`, () => model.fill(0xb3, 8 * B + 4096, 65536)],
        [`write -z ${B - 4096} 8192`, () => model.fill(0, B - 4096, 8192)],
      ];
      qemuIo(
        path,
        qemuSecond.map(([command]) => command),
      );
      for (const [, apply] of qemuSecond) apply();
      qemuCheck(path);

      // 5. We read QEMU's writes (read-only), then write once more, and QEMU agrees again.
      const again = await openVhdx(path);
      expectSameBytes(await again.read(0, size), model.read(0, size), "our read of QEMU's second writes");
      await again.close();
      const last = await openVhdx(path, { readOnly: false });
      await last.write(8 * B, pattern(0xc1, 4096 + 3));
      model.fill(0xc1, 8 * B, 4096 + 3);
      await last.close();
      qemuCheck(path);
      expectSameBytes(
        qemuWhole(path, `turns-${c.label.length}-b`),
        model.read(0, size),
        "qemu-img convert after our last write",
      );
    });
  }
});

// ---------------------------------------------------------------- past the 4 GiB chunk boundary

describe.skipIf(!oracles("qemu-img", "qemu-io"))(
  "writes around the first 4 GiB chunk boundary (sparse 6 GiB images)",
  () => {
    for (const blockSize of [MiB, 32 * MiB]) {
      it(`${blockSize / MiB} MiB blocks (chunk ratio ${(4 * GiB) / blockSize})`, async () => {
        const size = 6 * GiB + 3 * 512;
        const edge = 4 * GiB; // chunk 1 starts here: its payload BAT entries follow chunk 0's sector bitmap entry
        const path = dir.file(`chunk-${blockSize}.vhdx`);
        qemuCreate(path, { size, subformat: "dynamic", blockSize });
        const lo = edge - 2 * blockSize;
        const windowLength = 4 * blockSize;
        const tail = size - blockSize;
        const fresh = edge + 3 * blockSize; // a block only QEMU's second session writes
        const model = new WindowModel([
          [lo, windowLength],
          [fresh, blockSize],
          [tail, size - tail],
        ]);

        qemuIo(path, [
          `write -P 0x61 ${edge - blockSize} ${blockSize / 2}`,
          `write -P 0x62 ${edge + 4096} 65536`,
          `write -P 0x63 ${size - 512} 512`,
        ]);
        model.fill(0x61, edge - blockSize, blockSize / 2);
        model.fill(0x62, edge + 4096, 65536);
        model.fill(0x63, size - 512, 512);

        const image = await openVhdx(path, { readOnly: false });
        expectSameBytes(
          await image.read(lo, windowLength),
          model.read(lo, windowLength),
          "our read of QEMU's writes around 4 GiB",
          lo,
        );
        // Across the boundary, from QEMU's block into a fresh one.
        await image.write(edge - 100_000, pattern(0xc1, 200_001));
        model.fill(0xc1, edge - 100_000, 200_001);
        // Into QEMU's block just past the boundary, unaligned.
        await image.write(edge + 4096 + 33, pattern(0xc2, 1000));
        model.fill(0xc2, edge + 4096 + 33, 1000);
        // A whole fresh block past the boundary, then zero it again, then write part of it.
        await image.write(edge + blockSize, pattern(0xc3, blockSize));
        await image.writeZeroes(edge + blockSize, blockSize);
        await image.write(edge + blockSize + 512, pattern(0xc4, 512));
        model.fill(0xc4, edge + blockSize + 512, 512);
        // A block of chunk 0 written, discarded whole (reads zeros again), and written again.
        await image.write(edge - 2 * blockSize, pattern(0xc7, 4096));
        await image.discard(edge - 2 * blockSize, blockSize);
        expectSameBytes(
          await image.read(edge - 2 * blockSize, 8192),
          new Uint8Array(8192),
          "a discarded block",
          edge - 2 * blockSize,
        );
        await image.write(edge - 2 * blockSize + 7, pattern(0xc5, 9));
        model.fill(0xc5, edge - 2 * blockSize + 7, 9);
        // The end of the disk.
        await image.write(size - 1024, pattern(0xc6, 700));
        model.fill(0xc6, size - 1024, 700);
        await image.flush();
        expectSameBytes(
          await image.read(lo, windowLength),
          model.read(lo, windowLength),
          "our read after our writes",
          lo,
        );
        await image.close();

        qemuCheck(path);
        expectSameBytes(
          qemuWindow(path, lo, windowLength),
          model.read(lo, windowLength),
          "QEMU's read around 4 GiB",
          lo,
        );
        expectSameBytes(
          qemuWindow(path, tail, size - tail),
          model.read(tail, size - tail),
          "QEMU's read of the last block",
          tail,
        );
        qemuVerify(path, model, [[edge - 100_000, 200_001 + 8192]]);

        // QEMU writes on both sides again; we read it.
        qemuIo(path, [`write -P 0x71 ${edge - 8192} 16384`, `write -P 0x72 ${fresh + 512} 4096`]);
        model.fill(0x71, edge - 8192, 16384);
        model.fill(0x72, fresh + 512, 4096);
        const after = await openVhdx(path);
        expectSameBytes(
          await after.read(lo, windowLength),
          model.read(lo, windowLength),
          "our read of QEMU's second writes",
          lo,
        );
        expectSameBytes(
          await after.read(fresh, blockSize),
          model.read(fresh, blockSize),
          "our read of QEMU's new block",
          fresh,
        );
        expectSameBytes(
          await after.read(tail, size - tail),
          model.read(tail, size - tail),
          "our read of the last block",
          tail,
        );
        await after.close();
      });
    }
  },
);

// ---------------------------------------------------------------- sessions and the headers

describe.skipIf(!oracles("qemu-img", "qemu-io"))("the write session and the headers", () => {
  function qemuImage(name: string): string {
    const path = dir.file(name);
    qemuCreate(path, { size: 16 * MiB, subformat: "dynamic", blockSize: MiB });
    qemuIo(path, [`write -P 0x5a 0 ${MiB}`, `write -P 0x6b ${3 * MiB + 512} 4096`]);
    return path;
  }

  it("a read-write open with reads and flushes but no writes leaves the file byte-identical", async () => {
    const path = qemuImage("untouched.vhdx");
    const before = sha256(path);
    const image = await openVhdx(path, { readOnly: false });
    expect(image.readOnly).toBe(false);
    expect(image.logReplay).toBeNull();
    expect([...(await image.read(3 * MiB + 512, 4))]).toEqual([0x6b, 0x6b, 0x6b, 0x6b]);
    await image.readInto(new Uint8Array(MiB), 0);
    await image.flush();
    await image.flush();
    await image.close();
    expect(sha256(path)).toBe(before);
  });

  it("refused writes (out of range, zero-length) do not start a session either", async () => {
    const path = qemuImage("refused.vhdx");
    const before = sha256(path);
    const image = await openVhdx(path, { readOnly: false });
    const refusals = [
      () => image.write(16 * MiB - 10, new Uint8Array(11)),
      () => image.write(-1, new Uint8Array(1)),
      () => image.writeZeroes(16 * MiB, 1),
      () => image.discard(8 * MiB, 8 * MiB + 1),
    ];
    for (const refusal of refusals) {
      const error = await refusal().then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(VhdxError);
      expect((error as VhdxError).code).toBe("OUT_OF_RANGE");
    }
    await image.write(16 * MiB, new Uint8Array(0));
    await image.close();
    expect(sha256(path)).toBe(before);
  });

  it("a read-only image refuses write, writeZeroes and discard with READ_ONLY and stays untouched", async () => {
    const path = qemuImage("readonly.vhdx");
    const before = sha256(path);
    const image = await openVhdx(path);
    for (const attempt of [
      () => image.write(0, new Uint8Array(512)),
      () => image.writeZeroes(0, MiB),
      () => image.discard(0, MiB),
    ]) {
      const error = await attempt().then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(VhdxError);
      expect((error as VhdxError).code).toBe("READ_ONLY");
    }
    await image.flush(); // a no-op on a read-only image
    await image.close();
    expect(sha256(path)).toBe(before);
  });

  for (const where of [
    "an allocated block (no metadata change)",
    "a new block (BAT change through the log)",
  ] as const) {
    it(`one write into ${where} changes DataWriteGuid and FileWriteGuid; both headers valid, LogGuid nil after close`, async () => {
      const path = qemuImage(`guids-${where.length}.vhdx`);
      const old = headersOf(path);
      expect(old.valid1 && old.valid2).toBe(true);
      const oldCurrent = currentHeader(path);
      const oldMaxSequence = oldCurrent.sequenceNumber;

      const image = await openVhdx(path, { readOnly: false });
      expect(image.dataWriteGuid).toBe(oldCurrent.dataWriteGuid);
      const offset = where.startsWith("an allocated") ? 1000 : 9 * MiB + 1000;
      await image.write(offset, pattern(0xd7, 3000));
      // The header protocol ran before the data was written: the file already carries the new GUIDs.
      const during = currentHeader(path);
      expect(during.dataWriteGuid).not.toBe(oldCurrent.dataWriteGuid);
      expect(during.fileWriteGuid).not.toBe(oldCurrent.fileWriteGuid);
      expect(image.dataWriteGuid).toBe(during.dataWriteGuid);
      expect(image.fileWriteGuid).toBe(during.fileWriteGuid);
      await image.flush();
      if (where.startsWith("a new")) {
        // A BAT change went through the log: LogGuid is set until close.
        expect(currentHeader(path).logGuid).not.toBe(NIL);
      }
      await image.close();

      const after = headersOf(path);
      expect(after.valid1, "header 1 valid").toBe(true);
      expect(after.valid2, "header 2 valid").toBe(true);
      for (const h of [after.slot1, after.slot2]) {
        expect(h.logGuid).toBe(NIL);
        expect(h.dataWriteGuid).toBe(during.dataWriteGuid);
        expect(h.fileWriteGuid).toBe(during.fileWriteGuid);
        expect(h.sequenceNumber > oldMaxSequence).toBe(true);
        expect(h.logOffset).toBe(oldCurrent.logOffset);
        expect(h.logLength).toBe(oldCurrent.logLength);
        expect(h.version).toBe(1);
      }
      expect(after.slot1.sequenceNumber).not.toBe(after.slot2.sequenceNumber);

      const reopened = await openVhdx(path);
      expect(reopened.dataWriteGuid).toBe(during.dataWriteGuid);
      expect(reopened.logGuid).toBe(NIL);
      expect([...(await reopened.read(offset - 1, 3002))]).toEqual([
        offset - 1 < MiB ? 0x5a : 0,
        ...pattern(0xd7, 3000),
        offset + 3000 < MiB ? 0x5a : 0,
      ]);
      await reopened.close();
      qemuCheck(path);
      qemuIo(path, [`read -P 0xd7 ${offset} 3000`], { readOnly: true });
    });
  }

  it("rewriting allocated blocks allocates nothing; a new block grows the file by at most one block", async () => {
    const path = qemuImage("growth.vhdx");
    const size0 = statSync(path).size;
    const image = await openVhdx(path, { readOnly: false });
    const model = new Uint8Array(16 * MiB);
    model.fill(0x5a, 0, MiB);
    model.fill(0x6b, 3 * MiB + 512, 3 * MiB + 512 + 4096);
    for (let i = 0; i < 40; i++) {
      const offset = (i * 7919 * 13) % (MiB - 100); // inside QEMU's block 0
      await image.write(offset, pattern(i + 1, 100));
      model.fill(i + 1, offset, offset + 100);
      if (i % 5 === 0) await image.flush();
    }
    await image.write(3 * MiB, pattern(0x77, MiB)); // all of QEMU's block 3
    model.fill(0x77, 3 * MiB, 4 * MiB);
    await image.flush();
    expect(statSync(path).size, "rewrites of present blocks allocated space").toBe(size0);
    for (let i = 0; i < 20; i++) await image.write(5 * MiB + i * 4096 + 1, pattern(0x70, 4096));
    model.fill(0x70, 5 * MiB + 1, 5 * MiB + 1 + 20 * 4096);
    await image.close();
    expect(statSync(path).size).toBeGreaterThan(size0);
    expect(statSync(path).size).toBeLessThanOrEqual(size0 + MiB);
    qemuCheck(path);
    expectSameBytes(qemuWhole(path, "growth"), model, "qemu-img convert after rewrites");
  });

  it("a closed image refuses writes with CLOSED", async () => {
    const path = qemuImage("closed.vhdx");
    const image = await openVhdx(path, { readOnly: false });
    await image.write(0, pattern(1, 10));
    await image.close();
    const before = sha256(path);
    for (const attempt of [
      () => image.write(0, new Uint8Array(1)),
      () => image.writeZeroes(0, 1),
      () => image.discard(0, MiB),
      () => image.flush(),
    ]) {
      const error = await attempt().then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(VhdxError);
      expect((error as VhdxError).code).toBe("CLOSED");
    }
    await image.close(); // closing twice is fine
    expect(sha256(path)).toBe(before);
  });

  it("a differencing child written read-write leaves its parent file byte-identical and no session in it", async () => {
    const parent = buildVhdx({
      virtualSize: 8 * MiB,
      blockSize: MiB,
      type: "dynamic",
      blocks: { 0: { state: STATE.FULLY_PRESENT } },
    });
    const child = buildVhdx(
      {
        virtualSize: 8 * MiB,
        blockSize: MiB,
        type: "differencing",
        parent: { dataWriteGuid: parent.dataWriteGuid, paths: { relative_path: ".\\diff-parent.vhdx" } },
      },
      parent,
    );
    writeFileSync(dir.file("diff-parent.vhdx"), parent.bytes);
    writeFileSync(dir.file("diff-child.vhdx"), child.bytes);
    const parentHash = sha256(dir.file("diff-parent.vhdx"));
    const childHash = sha256(dir.file("diff-child.vhdx"));

    // Untouched session: both files identical.
    const idle = await openVhdx(dir.file("diff-child.vhdx"), { readOnly: false });
    await idle.read(0, MiB);
    await idle.close();
    expect(sha256(dir.file("diff-child.vhdx"))).toBe(childHash);

    const image = await openVhdx(dir.file("diff-child.vhdx"), { readOnly: false });
    await image.write(700, pattern(0xe1, 100)); // a partial sector over the parent's data
    await image.close();
    expect(sha256(dir.file("diff-parent.vhdx"))).toBe(parentHash);
    expect(sha256(dir.file("diff-child.vhdx"))).not.toBe(childHash);
    const reopened = await openVhdx(dir.file("diff-child.vhdx"));
    const expected = parent.expectedAt(0, 2048);
    expected.fill(0xe1, 700, 800);
    expectSameBytes(await reopened.read(0, 2048), expected, "child after a partial-sector write");
    // The parent's DataWriteGuid did not change, so the child still links to it.
    expect(reopened.parent?.dataWriteGuid).toBe(parent.dataWriteGuid);
    await reopened.close();
  });
});
