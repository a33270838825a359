// The CRC-32C cases reuse packages/crc32c/bench rather than measure again:
// its script runs once, in a child process, on the built @vhdx/crc32c and its
// peers, and we read its --json (results: { size, name, bytesPerSecond }[]).
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

export const CRC32C_BENCH = fileURLToPath(new URL("../../packages/crc32c/bench/crc32c.bench.mjs", import.meta.url));

let results = null;

/**
 * Throughput in bytes per second of @vhdx/crc32c and of `peer` at `size` bytes, from one run of the package's bench.
 * @returns {{ ours: number, peer: number }}
 */
export function crc32cRates(size, peer) {
  results ??= runBench();
  const rate = (name) => results.find((r) => r.size === size && r.name === name)?.bytesPerSecond;
  const [ours, theirs] = [rate("@vhdx/crc32c"), rate(peer)];
  if (ours === undefined || theirs === undefined) {
    throw new Error(`${CRC32C_BENCH} --json has no ${size}-byte result for @vhdx/crc32c and ${peer}`);
  }
  return { ours, peer: theirs };
}

function runBench() {
  const result = spawnSync(process.execPath, [CRC32C_BENCH, "--json"], { encoding: "utf8", maxBuffer: 16 << 20 });
  if (result.status !== 0) {
    throw new Error(`${CRC32C_BENCH} exited with ${result.status ?? result.signal}: ${result.stderr.trim()}`);
  }
  return JSON.parse(result.stdout).results;
}
