// Runs one command and returns its wall time, CPU time and peak RSS.
//
// Peak RSS and CPU time come from GNU time (`/usr/bin/time -f "%M %U %S"`),
// which prints the ru_maxrss, user and system times that wait4() returns
// for the child (CPU time to 10 ms): exact, with no polling to
// miss a short-lived peak. Its cost (one more fork and exec, about 1 ms) is
// paid alike by both sides of every ratio. A Python wrapper reading
// RUSAGE_CHILDREN would be as exact, but adds Python's ~20 ms start-up.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";

export const TIME = "/usr/bin/time";

/** True when GNU time is installed (Debian: apt-get install time). */
export const hasGnuTime = () => existsSync(TIME);

/**
 * @typedef {object} Run
 * @property {number} ms      wall time, from before the spawn to the child's exit
 * @property {number} rssKiB  the child's peak resident set size
 * @property {number} cpuMs   the child's user + system CPU time (to 10 ms)
 * @property {string} stdout
 */

/**
 * Runs `command args` under GNU time; throws when it exits with a status not in `okStatus`.
 * @param {string} command
 * @param {string[]} args
 * @param {{ rssFile: string, okStatus?: number[] }} options
 * @returns {Run}
 */
export function runCommand(command, args, { rssFile, okStatus = [0] }) {
  rmSync(rssFile, { force: true });
  const start = process.hrtime.bigint();
  const result = spawnSync(TIME, ["-f", "%M %U %S", "-o", rssFile, command, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    encoding: "utf8",
    maxBuffer: 16 << 20,
  });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.error) throw result.error;
  if (!okStatus.includes(result.status ?? -1)) {
    throw new Error(
      `${command} ${args.join(" ")} exited with ${result.status ?? result.signal}: ${result.stderr.trim()}`,
    );
  }
  // GNU time writes "Command exited with non-zero status N" first when it is so.
  const [rssKiB, user, system] = readFileSync(rssFile, "utf8").trim().split("\n").pop().split(" ").map(Number);
  return { ms, rssKiB, cpuMs: (user + system) * 1000, stdout: result.stdout };
}

/** The median of a list of numbers. */
export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}
