// The child process of write-sigkill.test.ts: opens a VHDX read-write with the
// BUILT package (dist/, through the package's self-reference) and writes until
// it is killed. Iteration i writes WRITE_LENGTH bytes of patternFor(seed, i) at
// plannedOffset(seed, i, virtualSize); before each write it prints "write i",
// and after every `flushEvery` writes it prints "flushing i", flushes, and
// prints "flushed i" (i = the last iteration the flush covers). stdout to a
// pipe is synchronous in Node on Linux, so every line printed before the kill
// reaches the parent.
//
//   node test/sigkill-writer.mjs <image.vhdx> <seed> <flushEvery> [maxIterations]
//
// The test imports plannedOffset and patternFor from this file to recompute the
// same writes; running the loop happens only when the file is the main module.
import { fileURLToPath } from "node:url";
import { writeSync } from "node:fs";
import { resolve } from "node:path";

export const WRITE_LENGTH = 64 * 1024;
/** A quarter of the writes land in this first stretch of the disk, so regions are written again and again. */
export const HOT_LENGTH = 4 * 1024 * 1024;

function mix(a, b) {
  let h = (Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x632be5ab, 0xc2b2ae35)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d) >>> 0;
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

/** Where iteration `i` writes: byte-granular, anywhere, or (one time in four) in the hot stretch. */
export function plannedOffset(seed, i, virtualSize) {
  const h = mix(seed, i);
  const span = (h & 3) === 0 ? Math.min(HOT_LENGTH, virtualSize) : virtualSize;
  return mix(h, 0x51ed) % (span - WRITE_LENGTH + 1);
}

/** The bytes iteration `i` writes: depend on the iteration and the position, never zero. */
export function patternFor(seed, i, length = WRITE_LENGTH) {
  const bytes = new Uint8Array(length);
  const base = mix(seed ^ 0xabcdef, i);
  for (let k = 0; k < length; k++) bytes[k] = ((Math.imul(base + k, 2654435761) >>> 24) | 1) & 0xff;
  return bytes;
}

function say(line) {
  writeSync(1, `${line}\n`);
}

async function main() {
  const [path, seedText, flushEveryText, maxText] = process.argv.slice(2);
  if (!path || !seedText || !flushEveryText) {
    process.stderr.write("usage: sigkill-writer.mjs <image.vhdx> <seed> <flushEvery> [maxIterations]\n");
    process.exit(2);
  }
  const seed = Number(seedText) >>> 0;
  const flushEvery = Number(flushEveryText);
  const max = maxText === undefined ? Number.POSITIVE_INFINITY : Number(maxText);
  const { openVhdx } = await import("@vhdx/image/node");
  const image = await openVhdx(path, { readOnly: false });
  say(`opened ${image.virtualSize}`);
  for (let i = 0; i < max; i++) {
    say(`write ${i}`);
    await image.write(plannedOffset(seed, i, image.virtualSize), patternFor(seed, i));
    if ((i + 1) % flushEvery === 0) {
      say(`flushing ${i}`);
      await image.flush();
      say(`flushed ${i}`);
    }
  }
  // Only reached with maxIterations: wait to be killed, never closing the session.
  say("done");
  setInterval(() => undefined, 1 << 30);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  main().catch((error) => {
    process.stderr.write(`${error?.stack ?? error}\n`);
    process.exit(1);
  });
}
