// Runs one case: each side once untimed (warm page cache), then `runs` times,
// the two sides taking turns; medians, their ratio, peak RSS, and whether the
// target is met. A side whose untimed run took longer than SLOW_MS is not run
// again: that run is its one sample (at that length the warm-up no longer
// matters, and five more runs of minutes would hold up the whole bench).
import { rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { median, runCommand } from "./run-command.mjs";
import { judge } from "./targets.mjs";

export const SLOW_MS = 30_000;

/**
 * @param {import("./cases.mjs").Case} c
 * @param {{ runs: number, dir: string, rssFile: string }} options  `dir` holds the case's output
 */
export function runCase(c, { runs, dir, rssFile }) {
  if (c.rates) return runRateCase(c);
  const sides = [["ours", c.ours], ...(c.theirs ? [["peer", c.theirs]] : [])];
  const samples = { ours: [], peer: [] };
  const outputs = {};
  const once = (side, build) => {
    const out = c.output ? join(dir, `out-${side}.${c.output}`) : "";
    if (out) rmSync(out, { force: true });
    if (out && c.prepare) c.prepare(out);
    const [command, args] = build(out);
    const run = runCommand(command, args, { rssFile });
    const inner = c.inner?.[side === "ours" ? "ours" : "theirs"];
    if (out) outputs[side] = measureOutput(c, side, out);
    return { ms: inner ? inner(run.stdout) : run.ms, wallMs: run.ms, cpuMs: run.cpuMs, rssMiB: run.rssKiB / 1024 };
  };
  const timed = [];
  for (const [side, build] of sides) {
    const warm = once(side, build);
    if (warm.wallMs > SLOW_MS) samples[side].push(warm);
    else timed.push([side, build]);
  }
  for (let i = 0; i < runs; i++) for (const [side, build] of timed) samples[side].push(once(side, build));

  const oursMs = median(samples.ours.map((s) => s.ms));
  const peerMs = c.theirs ? median(samples.peer.map((s) => s.ms)) : null;
  const ratio = peerMs === null ? null : oursMs / peerMs;
  const oursPeakRssMiB = Math.max(...samples.ours.map((s) => s.rssMiB));
  const oursCpuMs = median(samples.ours.map((s) => s.cpuMs));
  const peerCpuMs = c.theirs ? median(samples.peer.map((s) => s.cpuMs)) : null;
  return {
    ...describe(c),
    runs: { ours: samples.ours.length, peer: samples.peer.length },
    timedOnce: sides.filter(([side]) => !timed.some(([t]) => t === side)).map(([side]) => side),
    oursMs,
    peerMs,
    ratio,
    ...judge(c.target, { ratio, oursPeakRssMiB }),
    // Whole commands' CPU time: steadier than wall time where the machine stalls (writeback, the VM).
    oursCpuMs,
    peerCpuMs,
    cpuRatio: peerCpuMs ? oursCpuMs / peerCpuMs : null,
    spread: { ours: spreadOf(samples.ours), peer: c.theirs ? spreadOf(samples.peer) : null },
    oursPeakRssMiB,
    peerPeakRssMiB: c.theirs ? Math.max(...samples.peer.map((s) => s.rssMiB)) : null,
    timed: c.inner ? "the work alone, as each side reports it" : "whole command, wall clock",
    samples,
    ...(c.output ? { outputs } : {}),
  };
}

/** Slowest / fastest timed sample of a side: far above 1 says the machine, not the code, set the median. */
const spreadOf = (samples) => Math.max(...samples.map((s) => s.ms)) / Math.min(...samples.map((s) => s.ms));

/** A case that measures throughput itself (in a child process) and reports bytes per second. */
function runRateCase(c) {
  const { ours, peer } = c.rates();
  const ratio = peer / ours; // time per byte, ours / peer, like every other ratio
  return {
    ...describe(c),
    oursRate: ours,
    peerRate: peer,
    ratio,
    ...judge(c.target, { ratio, oursPeakRssMiB: null, oursRate: ours, peerRate: peer }),
    timed: "throughput, as the package's own bench measures it",
  };
}

/** What a result says about its case whether it ran or not. */
export const describe = (c) => ({
  id: c.id,
  what: c.what,
  peer: c.peer,
  place: c.place ?? "disk",
  target: c.target,
});

/** Size and allocated bytes (what `du` reads) of an output, then removes it; throws when a sparse output is not. */
function measureOutput(c, side, out) {
  const { size, blocks } = statSync(out);
  rmSync(out, { force: true });
  if (c.maxAllocated !== undefined && blocks * 512 > c.maxAllocated) {
    throw new Error(
      `${c.id}: ${side} wrote ${blocks * 512} bytes, more than the ${c.maxAllocated} a sparse output may take`,
    );
  }
  return { size, allocated: blocks * 512 };
}
