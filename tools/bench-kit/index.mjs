// Timing harness for the benchmarks. Each case runs in rounds of at least
// `roundMs`; the median round gives the figure, so one noisy round (GC, the
// other core busy) does not move the result. Ratios compare cases measured in
// the same process, minutes apart at most, which is what we report.

/**
 * Times `fn`, which processes `bytesPerCall` bytes per call.
 * Returns { opsPerSecond, bytesPerSecond, medianNsPerCall, rounds }.
 */
export function measure(fn, { bytesPerCall = 0, rounds = 9, roundMs = 60, warmupMs = 100 } = {}) {
  let sink = 0;
  const warmupEnd = performance.now() + warmupMs;
  let calls = 0;
  while (performance.now() < warmupEnd) {
    sink ^= fn() | 0;
    calls++;
  }
  const perRound = Math.max(1, Math.ceil((calls / warmupMs) * roundMs));
  const samples = [];
  for (let round = 0; round < rounds; round++) {
    const start = performance.now();
    for (let i = 0; i < perRound; i++) sink ^= fn() | 0;
    samples.push((performance.now() - start) / perRound);
  }
  samples.sort((a, b) => a - b);
  const msPerCall = samples[samples.length >> 1];
  globalThis.__benchSink = sink;
  return {
    opsPerSecond: 1000 / msPerCall,
    bytesPerSecond: (bytesPerCall * 1000) / msPerCall,
    medianNsPerCall: msPerCall * 1e6,
    rounds,
  };
}

export function formatBytes(bytes) {
  if (bytes >= 1 << 20 && bytes % (1 << 20) === 0) return `${bytes / (1 << 20)} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} B`;
}

export function formatRate(bytesPerSecond) {
  return bytesPerSecond >= 1e9
    ? `${(bytesPerSecond / 1e9).toFixed(2)} GB/s`
    : `${(bytesPerSecond / 1e6).toFixed(0)} MB/s`;
}

/** Prints rows (arrays of cells) as an aligned Markdown table. */
export function printTable(header, rows) {
  const widths = header.map((cell, i) => Math.max(String(cell).length, ...rows.map((row) => String(row[i]).length)));
  const line = (cells) => `| ${cells.map((cell, i) => String(cell).padEnd(widths[i])).join(" | ")} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const row of rows) console.log(line(row));
}

export const wantsJson = () => process.argv.includes("--json");
