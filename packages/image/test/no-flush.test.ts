// Images without flushes (createVhdx/openVhdx/FileSource with flush: false,
// like qemu's cache=unsafe): no fdatasync ever, files QEMU accepts and reads
// as we wrote them, and, since the log still orders every metadata change, a
// writer that dies part-way (its writes all kept, as the page cache keeps a
// killed process's writes) leaves a file that opens and holds every write a
// completed flush() covered.
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { oracles, qemuCheck, qemuConvertToRaw, tempDir } from "@vhdx-tools/oracles";
import { MemorySource, type RandomAccessSource, VhdxError, createImage, openImage } from "../src/index.js";
import { FileSource, createVhdx, openVhdx } from "../src/node/index.js";

const MiB = 1 << 20;
const hasQemu = oracles("qemu-img");
const dir = tempDir("vhdx-no-flush-");
afterAll(() => dir.remove());
afterEach(() => {
  vi.restoreAllMocks();
});
let fileCount = 0;
const newPath = (name: string) => dir.file(`${fileCount++}-${name}`);

/** Counts fdatasync calls on every Node file handle from here on. */
async function countDatasyncs(): Promise<{ readonly calls: number }> {
  const probe = await open(newPath("probe"), "w");
  const prototype = Object.getPrototypeOf(probe) as { datasync(): Promise<void> };
  await probe.close();
  const spy = vi.spyOn(prototype, "datasync");
  return {
    get calls() {
      return spy.mock.calls.length;
    },
  };
}

/** Writes a few blocks' worth of data, a zero write, a discard and a flush, then closes. */
async function writeSome(path: string, flush: boolean): Promise<Uint8Array> {
  const image = await createVhdx(path, { size: 16 * MiB, blockSize: MiB, flush });
  const data = randomBytes(3 * MiB + 1000);
  await image.write(MiB + 512, data);
  await image.writeZeroes(2 * MiB, MiB);
  await image.discard(8 * MiB, MiB);
  await image.flush();
  await image.write(12 * MiB, data.subarray(0, 4096));
  await image.close();
  const expected = new Uint8Array(16 * MiB);
  expected.set(data, MiB + 512);
  expected.fill(0, 2 * MiB, 3 * MiB);
  expected.set(data.subarray(0, 4096), 12 * MiB);
  return expected;
}

describe("flush: false", () => {
  it("createVhdx never calls fdatasync, while the default does", async () => {
    const datasync = await countDatasyncs();
    await writeSome(newPath("unflushed.vhdx"), false);
    expect(datasync.calls).toBe(0);
    await writeSome(newPath("flushed.vhdx"), true);
    expect(datasync.calls).toBeGreaterThan(4);
  });

  it("openVhdx never calls fdatasync, not even to replay a log or end the session", async () => {
    const path = newPath("reopened.vhdx");
    const pending = await fileWithLogToReplay();
    writeFileSync(path, pending.bytes);
    const expected = pending.contents;
    const datasync = await countDatasyncs();
    const image = await openVhdx(path, { readOnly: false, flush: false });
    await image.write(5 * MiB, new Uint8Array(70_000).fill(7));
    await image.flush();
    expect(image.logReplay).toBe("disk");
    await image.close();
    expect(datasync.calls).toBe(0);
    expected.fill(7, 5 * MiB, 5 * MiB + 70_000);
    const reread = await openVhdx(path);
    expect(Buffer.compare(await reread.read(0, reread.virtualSize), expected)).toBe(0);
    await reread.close();
  });

  it("FileSource: flush() is a no-op, but still refused read-only; a flush that is not a boolean is a TypeError", async () => {
    const path = newPath("source.bin");
    writeFileSync(path, new Uint8Array(4096));
    const datasync = await countDatasyncs();
    const source = await FileSource.open(path, { readOnly: false, flush: false });
    expect(source.flushes).toBe(false);
    await source.write(Uint8Array.of(1, 2, 3), 10);
    await source.flush();
    await source.close();
    expect(datasync.calls).toBe(0);
    expect(readFileSync(path).subarray(10, 13)).toEqual(Buffer.from([1, 2, 3]));
    const readOnly = await FileSource.open(path, { flush: false });
    await expect(readOnly.flush()).rejects.toMatchObject({ code: "READ_ONLY" });
    await readOnly.close();
    await expect(FileSource.open(path, { flush: "no" as unknown as boolean })).rejects.toThrow(TypeError);
    await expect(createVhdx(newPath("x.vhdx"), { size: MiB, flush: 0 as unknown as boolean })).rejects.toThrow(
      TypeError,
    );
  });

  it.skipIf(!hasQemu)("gives files qemu-img check accepts and QEMU reads as we wrote them", async () => {
    for (const flush of [false, true]) {
      const path = newPath(`qemu-${flush}.vhdx`);
      const expected = await writeSome(path, flush);
      expect(qemuCheck(path)).toMatch(/No errors were found/);
      const raw = newPath(`qemu-${flush}.raw`);
      qemuConvertToRaw(path, raw);
      expect(Buffer.compare(readFileSync(raw), expected), `flush: ${flush}`).toBe(0);
    }
  });
});

/**
 * A source that keeps every write (as the page cache keeps a killed
 * process's writes) and dies after `limit` mutating operations: that one and
 * every later one fail.
 */
class DyingSource implements RandomAccessSource {
  readonly name = "dying";
  readonly readOnly = false;
  operations = 0;

  constructor(
    readonly inner: MemorySource,
    private readonly limit = Number.POSITIVE_INFINITY,
  ) {}

  read(buffer: Uint8Array, position: number) {
    return this.inner.read(buffer, position);
  }
  write(data: Uint8Array, position: number) {
    return this.mutate(() => this.inner.write(data, position));
  }
  flush() {
    return this.mutate(async () => undefined);
  }
  size() {
    return this.inner.size();
  }
  truncate(length: number) {
    return this.mutate(() => this.inner.truncate(length));
  }
  async close() {}

  private async mutate(operation: () => Promise<void>): Promise<void> {
    if (this.operations >= this.limit) throw new VhdxError("IO_ERROR", "the writer died");
    this.operations++;
    await operation();
  }
}

type Step = { kind: "write"; offset: number; length: number; value: number } | { kind: "flush" };

const STEPS: Step[] = [
  { kind: "write", offset: 0, length: 3 * MiB, value: 1 },
  { kind: "write", offset: 5 * MiB + 100, length: 9000, value: 2 },
  { kind: "flush" },
  { kind: "write", offset: MiB, length: 2 * MiB, value: 3 },
  { kind: "write", offset: 7 * MiB, length: MiB, value: 4 },
  { kind: "flush" },
  { kind: "write", offset: 6 * MiB - 10, length: 20, value: 5 },
];

/** The disk after the first `count` steps. */
function modelAfter(count: number): Uint8Array {
  const model = new Uint8Array(8 * MiB);
  for (const step of STEPS.slice(0, count))
    if (step.kind === "write") model.fill(step.value, step.offset, step.offset + step.length);
  return model;
}

/**
 * Every byte holds its value after the last completed flush, or the value of
 * a write after it that had started (unflushed writes may or may not show).
 */
function expectConsistent(contents: Uint8Array, flushedSteps: number, done: number, label: string): void {
  const flushed = modelAfter(flushedSteps);
  const later = STEPS.slice(flushedSteps, done + 1).filter((step) => step.kind === "write");
  for (let i = 0; i < contents.length; i++) {
    if (contents[i] === flushed[i]) continue;
    const explained = later.some(
      (step) => i >= step.offset && i < step.offset + step.length && contents[i] === step.value,
    );
    if (!explained)
      throw new Error(
        `${label}: byte ${i} is ${contents[i]}, flushed value ${flushed[i]}, and no later write explains it`,
      );
  }
}

/**
 * Creates an image in `source` and runs STEPS until the source dies; returns
 * how many steps completed (-1: the image was not created yet).
 */
async function runUntilDeath(source: DyingSource): Promise<number> {
  let done = -1;
  try {
    const image = await createImage(source, { size: 8 * MiB, blockSize: MiB });
    done = 0;
    for (const step of STEPS) {
      if (step.kind === "write") await image.write(step.offset, new Uint8Array(step.length).fill(step.value));
      else await image.flush();
      done++;
    }
    await image.close();
  } catch (error) {
    if (!(VhdxError.isInstance(error) && error.code === "IO_ERROR")) throw error;
  }
  return done;
}

/** The bytes of a writer that died with a log entry still to replay, and what the disk reads after the replay. */
async function fileWithLogToReplay(): Promise<{ bytes: Uint8Array; contents: Uint8Array }> {
  for (let limit = 1; ; limit++) {
    const source = new DyingSource(new MemorySource(), limit);
    if ((await runUntilDeath(source)) === STEPS.length)
      throw new Error("no point where a log entry was left to replay");
    const bytes = source.inner.bytes().slice();
    const image = await openImage(new MemorySource(bytes)).catch(() => null);
    if (image?.needsReplay) return { bytes, contents: await image.read(0, image.virtualSize) };
  }
}

describe("a writer without flushes that dies part-way", () => {
  it("leaves, at every point, a file that opens and holds every write a completed flush() covered", async () => {
    const counter = new DyingSource(new MemorySource());
    expect(await runUntilDeath(counter)).toBe(STEPS.length);
    let opened = 0;
    for (let limit = 0; limit <= counter.operations; limit++) {
      const source = new DyingSource(new MemorySource(), limit);
      const done = await runUntilDeath(source);
      // Dying while the new file is laid out may leave no header yet: not an image, and nothing was promised.
      if (done < 0) continue;
      const flushedSteps = STEPS.slice(0, done).reduce((last, step, i) => (step.kind === "flush" ? i + 1 : last), 0);
      const image = await openImage(new MemorySource(source.inner.bytes().slice()));
      opened++;
      expectConsistent(await image.read(0, image.virtualSize), flushedSteps, done, `died after ${limit} operations`);
    }
    expect(opened).toBeGreaterThan(counter.operations / 2);
  });
});
