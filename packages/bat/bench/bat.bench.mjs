// The hot paths of @vhdx/bat against the obvious code they replace:
// - mapRange over a 4 TiB disk with 1 MiB blocks (4 Mi BAT entries, 32 MiB of
//   BAT), against a loop that decodes each entry with getBigUint64 and makes
//   one object per block;
// - sectorRunLength walking every run of a 1 MiB sector bitmap, against a
//   per-bit loop. `--json` for machines.
import { BatTable, computeGeometry, mapRange, sectorRunLength, setSectorRange } from "@vhdx/bat";
import { formatRate, measure, printTable, wantsJson } from "@vhdx-tools/bench-kit";

const MiB = 1 << 20;
const TiB = 2 ** 40;

// A dynamic 4 TiB disk. "contiguous": every block present, in order (one run).
// "mixed": present blocks out of order between zero blocks (a run per block).
const geometry = computeGeometry({ virtualSize: 4 * TiB, blockSize: MiB, logicalSectorSize: 512, hasParent: false });
const blocks = geometry.payloadBlockCount;
const index = (block) => block + Math.floor(block / geometry.chunkRatio);
function table(layout) {
  const t = new BatTable(new Uint8Array(geometry.batByteLength), geometry, { regionFileOffset: 2 * MiB });
  for (let block = 0; block < blocks; block++) {
    if (layout === "contiguous") t.setEntry(index(block), 6, 8 + block);
    else if (block % 3 === 2) t.setEntry(index(block), 2, 0);
    else t.setEntry(index(block), 6, 8 + (block ^ 1));
  }
  return t;
}

/** Per block: a BigInt decode and an object, no merging. */
function naiveMap(t, offset, length, visit) {
  const view = new DataView(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength);
  for (let position = offset; position < offset + length; ) {
    const block = Math.floor(position / geometry.blockSize);
    const entry = view.getBigUint64(index(block) * 8, true);
    const state = Number(entry & 7n);
    const end = Math.min(offset + length, (block + 1) * geometry.blockSize);
    const fileOffset = state === 6 ? Number(entry >> 20n) * MiB + (position - block * geometry.blockSize) : -1;
    visit({ kind: state === 6 ? "data" : "zero", virtualOffset: position, length: end - position, fileOffset, block });
    position = end;
  }
}

const results = [];
const tables = { contiguous: table("contiguous"), mixed: table("mixed") };
const mappers = [
  [
    "@vhdx/bat mapRange",
    (t) => {
      let runs = 0;
      mapRange(t, 0, geometry.virtualSize, () => runs++);
      return runs;
    },
  ],
  [
    "naive per block",
    (t) => {
      let runs = 0;
      naiveMap(t, 0, geometry.virtualSize, () => runs++);
      return runs;
    },
  ],
];
// Each whole-disk call takes tens of milliseconds: warm both up before timing either.
for (let i = 0; i < 3; i++) for (const [, map] of mappers) for (const t of Object.values(tables)) map(t);
for (const [layout, t] of Object.entries(tables)) {
  for (const [name, map] of mappers) {
    const whole = measure(() => map(t), { rounds: 5, roundMs: 200, warmupMs: 300 });
    results.push({
      case: `map the whole disk, ${layout}`,
      name,
      blocksPerSecond: blocks * whole.opsPerSecond,
      runs: map(t),
    });
  }
}

// Short reads, as a reader issues them: 64 KiB at scattered block-aligned-ish offsets.
{
  const t = tables.mixed;
  const offsets = Array.from(
    { length: 1024 },
    (_, i) => ((i * 2654435761) % (blocks - 1)) * MiB + ((i * 40503) % 16) * 4096,
  );
  for (const [name, map] of [
    ["@vhdx/bat mapRange", mapRange],
    ["naive per block", naiveMap],
  ]) {
    let i = 0;
    const small = measure(
      () => {
        let n = 0;
        map(t, offsets[i++ & 1023], 65536, () => n++);
        return n;
      },
      { bytesPerCall: 65536 },
    );
    results.push({ case: "64 KiB reads", name, callsPerSecond: small.opsPerSecond });
  }
}

// Sector bitmaps: walk every run of a 1 MiB bitmap.
const SECTORS = 2 ** 23;
function naiveRunLength(bitmap, first, maxCount) {
  const bit = (bitmap[first >>> 3] >>> (first & 7)) & 1;
  let count = 0;
  while (
    count < maxCount &&
    first + count < SECTORS &&
    ((bitmap[(first + count) >>> 3] >>> ((first + count) & 7)) & 1) === bit
  )
    count++;
  return count;
}
function bitmapWithRuns(runLength) {
  const bitmap = new Uint8Array(MiB);
  let seed = 1;
  for (let sector = 0, present = false; sector < SECTORS; present = !present) {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    const run = Math.min(SECTORS - sector, 1 + (seed % (2 * runLength)));
    setSectorRange(bitmap, sector, run, present);
    sector += run;
  }
  return bitmap;
}
// One walker per function, so each call site sees one callee.
const walkers = [
  [
    "@vhdx/bat sectorRunLength",
    (bitmap) => {
      let runs = 0;
      for (let s = 0; s < SECTORS; runs++) s += sectorRunLength(bitmap, s, SECTORS - s);
      return runs;
    },
  ],
  [
    "naive per bit",
    (bitmap) => {
      let runs = 0;
      for (let s = 0; s < SECTORS; runs++) s += naiveRunLength(bitmap, s, SECTORS - s);
      return runs;
    },
  ],
];
for (const [label, average] of [
  ["runs of ~64 Ki sectors", 65536],
  ["runs of ~1 Ki sectors", 1024],
  ["runs of ~8 sectors", 8],
]) {
  const bitmap = bitmapWithRuns(average);
  const [ours, naive] = walkers.map(([, walk]) => walk(bitmap));
  if (ours !== naive) throw new Error(`sectorRunLength found ${ours} runs, the per-bit loop ${naive}`);
  for (const [name, walk] of walkers) {
    const { bytesPerSecond } = measure(() => walk(bitmap), { bytesPerCall: MiB, rounds: 5, roundMs: 200 });
    results.push({ case: `walk a 1 MiB bitmap, ${label}`, name, bytesPerSecond, runs: ours });
  }
}

if (wantsJson()) {
  console.log(JSON.stringify({ benchmark: "bat", node: process.version, results }, null, 2));
} else {
  const cases = [...new Set(results.map((r) => r.case))];
  const figure = (r) =>
    r.blocksPerSecond !== undefined
      ? `${(r.blocksPerSecond / 1e6).toFixed(1)} M blocks/s`
      : r.callsPerSecond !== undefined
        ? `${(r.callsPerSecond / 1e6).toFixed(2)} M calls/s`
        : formatRate(r.bytesPerSecond);
  const speed = (r) => r.blocksPerSecond ?? r.callsPerSecond ?? r.bytesPerSecond;
  const rows = cases.map((c) => {
    const [ours, naive] = results.filter((r) => r.case === c);
    return [c, figure(ours), figure(naive), `${(speed(ours) / speed(naive)).toFixed(1)}x`];
  });
  console.log(
    `@vhdx/bat hot paths (median of rounds, Node ${process.version}); ratio = ours / naive, above 1 is faster`,
  );
  printTable(["case", "@vhdx/bat", "naive", "ratio"], rows);
}
