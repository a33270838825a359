// @vhdx/log on a full 1 MiB log. There is no other JavaScript VHDX log to
// compare with, so the yardstick is the least any search must do: one
// CRC-32C pass over the ring (@vhdx/crc32c). A ratio near 1 means the search
// costs about one checksum of the log; `--json` for machines.
//
// Logs: "one entry per update" is QEMU's kind (8 KiB entries, each its own
// tail, round the ring twice, so every sector holds a valid entry); "large
// entries" has 31 data sectors per entry; "a 6-entry sequence" has its head's
// Tail six entries back, so planReplay joins 6 entries' updates.
import { crc32c } from "@vhdx/crc32c";
import { findActiveSequence, LogWriter, planReplay } from "@vhdx/log";
import { formatRate, measure, printTable, wantsJson } from "@vhdx-tools/bench-kit";

const MiB = 1 << 20;
const SECTOR = 4096;
const GUID = "0b5e6f1a-7c2d-4e3f-8a9b-1c2d3e4f5a6b";
const sizes = { flushedFileOffset: 8 * MiB, lastFileOffset: 8 * MiB };

function fill(seed, length) {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (Math.imul(i + seed, 2654435761) >>> 24) & 0xff;
  return bytes;
}

/** Appends entries of `sectorsPerEntry` data sectors until the writer has gone round `laps` times. */
function log(sectorsPerEntry, laps = 2) {
  const ring = new Uint8Array(MiB);
  const writer = new LogWriter({ logLength: MiB, logGuid: GUID, nextOffset: 0, nextSequenceNumber: 1n });
  const entryLength = LogWriter.entryLength([{ fileOffset: 0, data: new Uint8Array(sectorsPerEntry * SECTOR) }]);
  for (let i = 0; i < (laps * MiB) / entryLength; i++) {
    const data = fill(i, sectorsPerEntry * SECTOR);
    for (const { ringOffset, bytes } of writer.append([{ fileOffset: 2 * MiB + (i % 64) * SECTOR, data }], sizes)
      .pieces)
      ring.set(bytes, ringOffset);
  }
  return ring;
}

/** Six entries whose head's Tail points at the first, as a writer that batches before applying would leave. */
function sequenceOfSix() {
  const ring = log(1);
  // LogWriter sets each entry's Tail to the entry itself: point the newest six
  // at the first of them and fix their checksums.
  const sequence = findActiveSequence(ring, GUID);
  let offset = sequence.head.offset;
  const offsets = [offset];
  for (let i = 0; i < 5; i++) offsets.unshift((offset = (offset - 2 * SECTOR + MiB) % MiB));
  const view = new DataView(ring.buffer);
  for (const at of offsets) {
    view.setUint32(at + 12, offsets[0], true); // Tail
    view.setUint32(at + 4, 0, true);
    const length = view.getUint32(at + 8, true);
    view.setUint32(at + 4, crc32c(ring.subarray(at, at + length)), true);
  }
  return ring;
}

const logs = [
  ["one entry per update (8 KiB entries)", log(1)],
  ["large entries (128 KiB)", log(31)],
  ["a 6-entry sequence", sequenceOfSix()],
];

const results = [];
for (const [name, ring] of logs) {
  const found = findActiveSequence(ring, GUID);
  const plan = planReplay(ring, GUID, 8 * MiB);
  const crc = measure(() => crc32c(ring), { bytesPerCall: MiB });
  const search = measure(() => findActiveSequence(ring, GUID).entries.length, { bytesPerCall: MiB });
  const replay = measure(() => planReplay(ring, GUID, 8 * MiB).operations.length, { bytesPerCall: MiB });
  results.push({
    log: name,
    entries: found.entries.length,
    operations: plan.operations.length,
    crcBytesPerSecond: crc.bytesPerSecond,
    searchBytesPerSecond: search.bytesPerSecond,
    searchMs: search.medianNsPerCall / 1e6,
    replayBytesPerSecond: replay.bytesPerSecond,
    replayMs: replay.medianNsPerCall / 1e6,
  });
}

if (wantsJson()) {
  console.log(JSON.stringify({ benchmark: "log", node: process.version, results }, null, 2));
} else {
  console.log(
    `@vhdx/log on a full 1 MiB log (median of rounds, Node ${process.version}); ratio = ours / one CRC-32C pass, 1 is as fast as checksumming the log once`,
  );
  printTable(
    ["log", "one CRC-32C pass", "findActiveSequence", "ratio", "planReplay", "ratio"],
    results.map((r) => [
      r.log,
      formatRate(r.crcBytesPerSecond),
      `${formatRate(r.searchBytesPerSecond)} (${r.searchMs.toFixed(2)} ms)`,
      `${(r.searchBytesPerSecond / r.crcBytesPerSecond).toFixed(2)}x`,
      `${formatRate(r.replayBytesPerSecond)} (${r.replayMs.toFixed(2)} ms)`,
      `${(r.replayBytesPerSecond / r.crcBytesPerSecond).toFixed(2)}x`,
    ]),
  );
}
