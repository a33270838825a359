// Differential reads against QEMU 7.2: images made by `qemu-img create -f vhdx`,
// filled by one seeded `qemu-io` session, must read byte for byte like
// `qemu-img convert -O raw` of the same file, and like a model of the writes.
// libvhdi (vhdiinfo, pyvhdi) cross-checks identity fields and bytes.
import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { afterAll, assert, beforeAll, describe, expect, it } from "vitest";
import { VhdxError } from "../src/index.js";
import { openVhdx } from "../src/node/index.js";
import {
  type TempDir,
  oracle,
  oracles,
  pyvhdiRead,
  qemuConvertToRaw,
  qemuCreate,
  qemuIo,
  tempDir,
  vhdiinfoFields,
} from "@vhdx-tools/oracles";

const hasQemu = oracles("qemu-img", "qemu-io");
const hasVhdiinfo = oracle("vhdiinfo");
const hasPyvhdi = oracle("pyvhdi");

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const SECTOR = 512;
/** One sector bitmap block covers 2^23 sectors: 4 GiB with 512-byte sectors. */
const CHUNK = 2 ** 23 * SECTOR;
/** Whole-disk comparisons walk the disk in windows of this odd size, so window edges fall inside blocks, sectors and the chunk boundary. */
const WINDOW = 48 * MiB + 12_345;
const LONG = 120_000;

// ---------------------------------------------------------------- seeded randomness

type Rng = () => number;

/** mulberry32: small, fast, reproducible. */
function rng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** An integer in [lo, hi]. */
const between = (r: Rng, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
/** n or n - 1, whichever is odd (no bitwise operators: offsets pass 2^31). */
const odd = (n: number) => (n % 2 === 1 ? n : n - 1);

// ---------------------------------------------------------------- the workload and its model

type Op =
  | { kind: "write"; offset: number; length: number; pattern: number }
  | { kind: "zero"; offset: number; length: number };

function command(op: Op): string {
  return op.kind === "write"
    ? `write -P 0x${op.pattern.toString(16).padStart(2, "0")} ${op.offset} ${op.length}`
    : `write -z ${op.offset} ${op.length}`;
}

/**
 * A reproducible mix of writes for a disk of `size` bytes in blocks of `blockSize`:
 * random sector-aligned (not block-aligned) writes, a few byte-unaligned ones
 * (qemu-io does the read-modify-write), writes straddling block boundaries, the
 * chunk boundary and the end of the disk, `write -z` over whole blocks holding
 * data and over partial ranges, then overwrites of earlier writes. About a third
 * of the blocks (never the first, the last, or those at the chunk boundary) are
 * left untouched, so every image keeps blocks QEMU never allocated.
 */
function workload(seed: number, size: number, blockSize: number): Op[] {
  const r = rng(seed);
  const ops: Op[] = [];
  const sectors = size / SECTOR;
  const blocks = Math.ceil(size / blockSize);
  const maxSectors = Math.min(4 * MiB, 2.5 * blockSize) / SECTOR;
  const quiet = new Set<number>();
  const chunkBlock = Math.floor(CHUNK / blockSize);
  for (let block = 1; block < blocks - 1; block++) {
    if (Math.abs(block - chunkBlock) > 2 && r() < 1 / 3) quiet.add(block);
  }
  if (quiet.size === 0 && blocks >= 3) quiet.add(between(r, 1, blocks - 2));
  const touchesQuiet = (offset: number, end: number) => {
    for (let block = Math.floor(offset / blockSize); block * blockSize < end; block++)
      if (quiet.has(block)) return true;
    return false;
  };
  let lastPattern = 0;
  const pattern = () => {
    let p: number;
    do p = between(r, 1, 255);
    while (p === lastPattern);
    lastPattern = p;
    return p;
  };
  /** Adds the op (clipped to the disk) unless it would touch a quiet block; says whether it did. */
  const add = (kind: Op["kind"], offset: number, length: number) => {
    const end = Math.min(size, offset + length);
    if (end <= offset || touchesQuiet(offset, end)) return false;
    ops.push(
      kind === "write"
        ? { kind, offset, length: end - offset, pattern: pattern() }
        : { kind, offset, length: end - offset },
    );
    return true;
  };
  /** Tries fresh random ops until one lands outside the quiet blocks. */
  const attempt = (make: () => boolean) => {
    for (let tries = 0; tries < 100 && !make(); tries++);
  };
  const write = (offset: number, length: number) => add("write", offset, length);
  const zero = (offset: number, length: number) => add("zero", offset, length);

  // Random sector-aligned writes anywhere.
  for (let i = 0; i < 14; i++)
    attempt(() => write(between(r, 0, sectors - 1) * SECTOR, between(r, 1, maxSectors) * SECTOR));
  // Byte-unaligned writes: odd offsets and lengths.
  for (let i = 0; i < 4; i++) attempt(() => write(between(r, 0, size - 2), between(r, 1, 70_000) | 1));
  // Straddling block boundaries.
  for (let i = 0; i < Math.min(6, blocks - 1); i++) {
    attempt(() => {
      const boundary = between(r, 1, blocks - 1) * blockSize;
      const before = between(r, 1, 64);
      return write(boundary - before * SECTOR, (before + between(r, 1, 64)) * SECTOR);
    });
  }
  // Straddling the 4 GiB chunk boundary (the BAT has a sector bitmap entry there).
  if (size > CHUNK) {
    write(CHUNK - 3 * SECTOR, 11 * SECTOR);
    write(CHUNK - 2 * blockSize - 5 * SECTOR, 2 * blockSize + 9 * SECTOR);
  }
  // The last sectors of the disk, and the first ones.
  write(size - 3 * SECTOR, 3 * SECTOR);
  write(0, between(r, 1, 8) * SECTOR);

  // write -z: a whole block that holds data, ranges inside earlier writes, and across a boundary.
  const written = ops.filter((op): op is Extract<Op, { kind: "write" }> => op.kind === "write");
  const pick = () => written[between(r, 0, written.length - 1)]!;
  const inside = (op: Op) => Math.floor((op.offset + r() * op.length) / SECTOR) * SECTOR;
  const wholeBlock = Math.floor(pick().offset / blockSize) * blockSize;
  zero(wholeBlock, blockSize);
  for (let i = 0; i < 4; i++) attempt(() => zero(inside(pick()), between(r, 1, 32) * SECTOR));
  if (blocks > 1) attempt(() => zero(between(r, 1, blocks - 1) * blockSize - 7 * SECTOR, 20 * SECTOR));
  attempt(() => zero(between(r, 0, sectors - 1) * SECTOR, between(r, 1, maxSectors) * SECTOR));

  // Overwrite parts of earlier writes (and re-dirty the zeroed block).
  for (let i = 0; i < 5; i++) {
    attempt(() => {
      const op = pick();
      return write(inside(op), between(r, 1, Math.max(1, Math.floor(op.length / SECTOR))) * SECTOR);
    });
  }
  write(wholeBlock + between(r, 1, Math.min(blockSize, size - wholeBlock) / SECTOR - 1) * SECTOR, SECTOR + 17);
  return ops;
}

/** What [offset, offset + target.length) must read as after the ops, on a disk that started as zeros. */
function modelInto(ops: readonly Op[], target: Uint8Array, offset: number): void {
  target.fill(0);
  const end = offset + target.length;
  for (const op of ops) {
    const from = Math.max(op.offset, offset);
    const to = Math.min(op.offset + op.length, end);
    if (from < to) target.fill(op.kind === "write" ? op.pattern : 0, from - offset, to - offset);
  }
}

// ---------------------------------------------------------------- comparisons

/** Fails with a short, complete message (first differing offset, bytes, count) unless equal. */
function expectSame(actual: Uint8Array, expected: Uint8Array, base: number, what: string): void {
  const diff = difference(actual, expected, base);
  if (diff !== null) assert.fail(`${what}: ${diff}`);
}

/** Null when equal, else where and how they first differ (a short message, not a 64 MiB diff). */
function difference(actual: Uint8Array, expected: Uint8Array, base: number): string | null {
  if (actual.length !== expected.length) return `length ${actual.length}, expected ${expected.length}`;
  if (Buffer.compare(actual, expected) === 0) return null;
  let i = 0;
  while (actual[i] === expected[i]) i++;
  let count = 0;
  for (let j = i; j < actual.length; j++) if (actual[j] !== expected[j]) count++;
  const at = base + i;
  return `first difference at virtual offset ${at} (0x${at.toString(16)}): got 0x${actual[i]!.toString(16)}, expected 0x${expected[
    i
  ]!.toString(16)}; ${count} bytes differ in [${base}, ${base + actual.length})`;
}

async function readRaw(handle: FileHandle, target: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < target.length) {
    const { bytesRead } = await handle.read(target, done, target.length - done, position + done);
    if (bytesRead === 0)
      throw new Error(`raw file ends at ${position + done}, wanted ${target.length - done} more bytes`);
    done += bytesRead;
  }
}

const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(VhdxError.isInstance(error), `expected VhdxError ${code}, got ${String(error)}`).toBe(true);
  expect((error as VhdxError).code).toBe(code);
}

// ---------------------------------------------------------------- the images

interface Case {
  name: string;
  subformat: "fixed" | "dynamic";
  blockSize: number;
  size: number;
  /** Undefined: QEMU's default (on). */
  blockStateZero?: boolean;
  seed: number;
  /** Also compare the whole disk with python3-libvhdi. */
  pyvhdi?: boolean;
}

const CASES: Case[] = [
  {
    name: "fixed, 1 MiB blocks, odd tail",
    subformat: "fixed",
    blockSize: 1 * MiB,
    size: 40 * MiB + 3 * SECTOR,
    seed: 1,
  },
  {
    name: "dynamic, 1 MiB blocks, past the 4 GiB chunk boundary",
    subformat: "dynamic",
    blockSize: 1 * MiB,
    size: 4 * GiB + 5 * MiB,
    seed: 2,
  },
  {
    name: "fixed, 1 MiB blocks, block_state_zero=off, past 4 GiB (file offsets past 4 GiB)",
    subformat: "fixed",
    blockSize: 1 * MiB,
    size: 4 * GiB + 5 * MiB,
    blockStateZero: false,
    seed: 9,
  },
  {
    name: "dynamic, 8 MiB blocks, block_state_zero=off",
    subformat: "dynamic",
    blockSize: 8 * MiB,
    size: 70 * MiB + 7 * SECTOR,
    blockStateZero: false,
    seed: 3,
    pyvhdi: true,
  },
  {
    name: "fixed, 8 MiB blocks, block_state_zero=off",
    subformat: "fixed",
    blockSize: 8 * MiB,
    size: 50 * MiB,
    blockStateZero: false,
    seed: 4,
  },
  {
    name: "dynamic, 32 MiB blocks",
    subformat: "dynamic",
    blockSize: 32 * MiB,
    size: 200 * MiB + SECTOR,
    seed: 5,
    pyvhdi: true,
  },
  {
    name: "fixed, 32 MiB blocks, block_state_zero=off",
    subformat: "fixed",
    blockSize: 32 * MiB,
    size: 96 * MiB + 2 * SECTOR,
    blockStateZero: false,
    seed: 6,
  },
  {
    name: "dynamic, 256 MiB blocks, block_state_zero=off",
    subformat: "dynamic",
    blockSize: 256 * MiB,
    size: 600 * MiB,
    blockStateZero: false,
    seed: 7,
  },
  {
    name: "fixed, 256 MiB blocks, block_state_zero=off, partial last block",
    subformat: "fixed",
    blockSize: 256 * MiB,
    size: 300 * MiB + 5 * SECTOR,
    blockStateZero: false,
    seed: 8,
  },
];

/**
 * QEMU's fixed images with block_state_zero=off end the file at the end of
 * the virtual disk, so when the size is not a multiple of the block size the
 * last block lies partly past the end of the file. That is valid (qemu-img
 * check and libvhdi agree) and must read normally.
 */
const hasPartialLastBlockInFile = (c: Case) =>
  c.subformat === "fixed" && c.blockStateZero === false && c.size % c.blockSize !== 0;

interface Made {
  vhdx: string;
  raw: string;
  ops: Op[];
}

function makeImage(dir: TempDir, c: Case, name: string): Made {
  const vhdx = dir.file(`${name}.vhdx`);
  const raw = dir.file(`${name}.raw`);
  qemuCreate(vhdx, {
    size: c.size,
    subformat: c.subformat,
    blockSize: c.blockSize,
    ...(c.blockStateZero === undefined ? {} : { blockStateZero: c.blockStateZero }),
  });
  const ops = workload(c.seed, c.size, c.blockSize);
  qemuIo(vhdx, ops.map(command));
  qemuConvertToRaw(vhdx, raw);
  return { vhdx, raw, ops };
}

describe.skipIf(!hasQemu)("images made by QEMU read like qemu-img convert -O raw", () => {
  let dir: TempDir;
  beforeAll(() => {
    dir = tempDir("vhdx-qemu-read-");
  });
  afterAll(() => dir?.remove());

  CASES.forEach((c, index) => {
    describe(c.name, () => {
      let made: Made;
      beforeAll(() => {
        made = makeImage(dir, c, `case${index}`);
      }, LONG);

      it("opens with QEMU's geometry", async () => {
        const image = await openVhdx(made.vhdx);
        try {
          expect(image.virtualSize).toBe(c.size);
          expect(statSync(made.raw).size).toBe(c.size);
          expect(image.blockSize).toBe(c.blockSize);
          expect(image.logicalSectorSize).toBe(512);
          expect([512, 4096]).toContain(image.physicalSectorSize);
          expect(image.diskType).toBe(c.subformat);
          expect(image.creator).toMatch(/^QEMU v\d/);
          expect(image.readOnly).toBe(true);
          // The workload's premise: some blocks hold data, and (unless QEMU preallocated all) some do not.
          const bat = await image.bat();
          const states = new Set<number>();
          for (let block = 0; block < Math.ceil(c.size / c.blockSize); block++) states.add(bat.payloadState(block));
          expect(states.has(6), `payload block states ${[...states]}`).toBe(true);
          if (c.subformat === "dynamic" || c.blockStateZero !== false)
            expect(states.size, `payload block states ${[...states]}`).toBeGreaterThan(1);
        } finally {
          await image.close();
        }
      });

      it(
        "reads every byte as qemu-img convert does, and as the writes say",
        async () => {
          const image = await openVhdx(made.vhdx);
          const raw = await open(made.raw, "r");
          try {
            const end = c.size;
            const window = Math.min(WINDOW, end);
            const ours = new Uint8Array(window);
            const theirs = new Uint8Array(window);
            const model = new Uint8Array(window);
            for (let offset = 0; offset < end; offset += window) {
              const length = Math.min(window, end - offset);
              const a = ours.subarray(0, length);
              const b = theirs.subarray(0, length);
              const m = model.subarray(0, length);
              a.fill(0xee); // whatever the reader leaves untouched shows up
              await image.readInto(a, offset);
              await readRaw(raw, b, offset);
              modelInto(made.ops, m, offset);
              expectSame(a, b, offset, "ours vs qemu-img convert");
              expectSame(b, m, offset, "qemu-img convert vs the model of the qemu-io writes");
            }
          } finally {
            await raw.close();
            await image.close();
          }
        },
        LONG,
      );

      it(
        "answers unaligned reads at random offsets, and reads spanning many blocks",
        async () => {
          const image = await openVhdx(made.vhdx);
          const raw = await open(made.raw, "r");
          const r = rng(c.seed * 1000 + 7);
          const end = c.size;
          const check = async (offset: number, length: number) => {
            const expected = new Uint8Array(length);
            await readRaw(raw, expected, offset);
            const got = await image.read(offset, length);
            expectSame(got, expected, offset, `read(${offset}, ${length}) vs the raw file`);
          };
          try {
            // Odd offsets and lengths, biased to land near the writes.
            for (let i = 0; i < 40; i++) {
              const op = made.ops[between(r, 0, made.ops.length - 1)]!;
              const near = i % 2 === 0 ? op.offset + between(r, -3000, 3000) : between(r, 0, end - 1);
              const offset = odd(Math.min(Math.max(1, near), end - 1));
              const length = Math.min(end - offset, odd(between(r, 1, 3 * MiB)));
              if (length > 0) await check(offset, length);
            }
            // Tiny reads: single bytes at block edges and at the end of the disk.
            for (const at of [c.blockSize - 1, c.blockSize, end - 1, end - SECTOR - 1]) {
              if (at >= 0 && at < end) await check(at, 1);
            }
            // One call across many blocks (across every block of the smaller disks).
            const start = Math.min(c.blockSize - 333, end - 1);
            await check(start, Math.min(end - start, 9 * c.blockSize + 4321, 96 * MiB));
            if (end <= 128 * MiB) await check(0, end);
            // Across the 4 GiB chunk boundary in one call.
            if (end > CHUNK) {
              await check(CHUNK - 3 * MiB - 511, 6 * MiB + 1001);
              await check(CHUNK - 1, 2);
            }
          } finally {
            await raw.close();
            await image.close();
          }
        },
        LONG,
      );

      if (hasPartialLastBlockInFile(c))
        it("reads the last block, which QEMU's preallocated file holds only up to the virtual size", async () => {
          const image = await openVhdx(made.vhdx);
          const raw = await open(made.raw, "r");
          try {
            const start = Math.floor(c.size / c.blockSize) * c.blockSize;
            const lastBlockAt = (await image.bat()).payloadFileOffset(Math.floor(c.size / c.blockSize));
            expect(statSync(made.vhdx).size).toBe(lastBlockAt + (c.size - start));
            const expected = new Uint8Array(c.size - start);
            await readRaw(raw, expected, start);
            expectSame(await image.read(start, c.size - start), expected, start, "ours vs qemu-img convert");
          } finally {
            await raw.close();
            await image.close();
          }
        });

      it.skipIf(!hasVhdiinfo)("agrees with vhdiinfo on size, sector size, disk type and identifier", async () => {
        const info = vhdiinfoFields(made.vhdx);
        const image = await openVhdx(made.vhdx);
        try {
          expect(info.mediaSize).toBe(image.virtualSize);
          expect(info.bytesPerSector).toBe(image.logicalSectorSize);
          expect(info.diskType).toBe(image.diskType);
          expect(info.identifier).toBe(image.dataWriteGuid);
        } finally {
          await image.close();
        }
      });

      if (c.pyvhdi)
        it.skipIf(!hasPyvhdi)(
          "reads like python3-libvhdi",
          async () => {
            const image = await openVhdx(made.vhdx);
            const r = rng(c.seed * 1000 + 11);
            try {
              const ranges: Array<[number, number]> = [[0, c.size]];
              for (let i = 0; i < 20; i++) {
                const offset = odd(between(r, 1, c.size - 1));
                ranges.push([offset, Math.min(c.size - offset, between(r, 1, 2 * MiB))]);
              }
              const theirs = pyvhdiRead(made.vhdx, ranges);
              let at = 0;
              for (const [offset, length] of ranges) {
                expectSame(
                  await image.read(offset, length),
                  theirs.subarray(at, at + length),
                  offset,
                  `read(${offset}, ${length}) vs pyvhdi`,
                );
                at += length;
              }
            } finally {
              await image.close();
            }
          },
          LONG,
        );
    });
  });
});

describe.skipIf(!hasQemu)("a read-only open of a QEMU image", () => {
  let dir: TempDir;
  let made: Made;
  const c: Case = {
    name: "read-only",
    subformat: "dynamic",
    blockSize: 1 * MiB,
    size: 24 * MiB + 9 * SECTOR,
    seed: 99,
  };
  beforeAll(() => {
    dir = tempDir("vhdx-qemu-ro-");
    made = makeImage(dir, c, "ro");
  }, LONG);
  afterAll(() => dir?.remove());

  it("never writes the file: same bytes and times after reading everything and closing", async () => {
    const before = { hash: sha256(made.vhdx), stat: statSync(made.vhdx, { bigint: true }) };
    const image = await openVhdx(made.vhdx);
    const all = await image.read(0, image.virtualSize);
    for (let offset = 1; offset < image.virtualSize; offset += 3 * MiB + 77) {
      await image.read(offset, Math.min(image.virtualSize - offset, 1 * MiB + 3));
    }
    await image.close();
    const after = { hash: sha256(made.vhdx), stat: statSync(made.vhdx, { bigint: true }) };
    expect(after.hash).toBe(before.hash);
    expect(after.stat.size).toBe(before.stat.size);
    expect(after.stat.mtimeNs).toBe(before.stat.mtimeNs);
    expect(after.stat.ctimeNs).toBe(before.stat.ctimeNs);
    // The reads were real: they match QEMU's view.
    expectSame(all, new Uint8Array(readFileSync(made.raw)), 0, "ours vs qemu-img convert");
  });

  it("refuses reads past the end and bad offsets with OUT_OF_RANGE", async () => {
    const image = await openVhdx(made.vhdx);
    const size = image.virtualSize;
    try {
      // The last byte is readable (and right); one more is not.
      expect(await image.read(size - 1, 1)).toEqual(new Uint8Array(readFileSync(made.raw).subarray(size - 1)));
      await expectCode(image.read(size - 1, 2), "OUT_OF_RANGE");
      await expectCode(image.read(size, 1), "OUT_OF_RANGE");
      await expectCode(image.read(size + 4096, 512), "OUT_OF_RANGE");
      await expectCode(image.read(0, size + 1), "OUT_OF_RANGE");
      await expectCode(image.readInto(new Uint8Array(4), size - 3), "OUT_OF_RANGE");
      await expectCode(image.read(-1, 1), "OUT_OF_RANGE");
      await expectCode(image.read(-SECTOR, SECTOR), "OUT_OF_RANGE");
      await expectCode(image.read(1.5, 1), "OUT_OF_RANGE");
      await expectCode(image.read(0, 1.5), "OUT_OF_RANGE");
      await expectCode(image.read(Number.NaN, 1), "OUT_OF_RANGE");
      await expectCode(image.read(Number.POSITIVE_INFINITY, 1), "OUT_OF_RANGE");
      await expectCode(image.read(2 ** 53, 1), "OUT_OF_RANGE");
      await expectCode(image.read(0, -1), "OUT_OF_RANGE");
      await expectCode(image.readInto(new Uint8Array(4), -4), "OUT_OF_RANGE");
      await expectCode(image.readInto(new Uint8Array(4), 0.25), "OUT_OF_RANGE");
      // A refused read leaves the caller's buffer alone.
      const buffer = new Uint8Array(8).fill(0xa5);
      await expectCode(image.readInto(buffer, size - 4), "OUT_OF_RANGE");
      expect(buffer).toEqual(new Uint8Array(8).fill(0xa5));
    } finally {
      await image.close();
    }
  });
});
