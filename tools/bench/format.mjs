// Cells shared by the console table (index.mjs) and the README table (readme-table.mjs).
import { formatRate } from "@vhdx-tools/bench-kit";

/** 0.8 ms, 65 ms, 1.23 s. */
export function formatMs(ms) {
  if (ms == null) return "—";
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  return ms >= 10 ? `${ms.toFixed(0)} ms` : `${ms.toFixed(1)} ms`;
}

/** 0.22x, 0.004x, 13.7x. */
export function formatRatio(ratio) {
  if (ratio == null) return "—";
  const digits = ratio < 0.1 ? 3 : ratio >= 10 ? 1 : 2;
  return `${ratio.toFixed(digits)}x`;
}

/** 45 MiB. */
export const formatRss = (mib) => (mib == null ? "—" : `${mib.toFixed(0)} MiB`);

/** "<= 1x (goal 0.8x), < 128 MiB RSS", ">= 1.50 GB/s", or "—" when the case has no target. */
export function formatTarget(target, peer = null) {
  if (target == null) return "—";
  const parts = [];
  if (target.ratio !== undefined)
    parts.push(`<= ${target.ratio}x${target.goal === undefined ? "" : ` (goal ${target.goal}x)`}`);
  if (target.rssMiB !== undefined) parts.push(`< ${target.rssMiB} MiB RSS`);
  if (target.minRate !== undefined) parts.push(`>= ${formatRate(target.minRate)}`);
  if (target.minSpeedup !== undefined) parts.push(`>= ${target.minSpeedup}x ${peer ?? "the peer"}'s throughput`);
  return parts.join(", ");
}

/** "yes", "yes, goal too", "**no**", or "—" when there is nothing to judge. */
export function formatMet(met, goalMet = null) {
  if (met == null) return "—";
  if (!met) return "**no**";
  return goalMet ? "yes, goal too" : "yes";
}

/** Our side of a result: a time, a throughput, or why there is none. */
export function formatOurs(r) {
  if (r.skipped) return `skipped: ${r.skipped}`;
  if (r.error) return "failed (see the error below)";
  if (r.oursRate !== undefined) return formatRate(r.oursRate);
  return `${formatMs(r.oursMs)}${r.timedOnce?.includes("ours") ? " (1 run)" : ""}`;
}

/** The peer's side: its name (as `name` shows it) and its time or throughput. */
export function formatPeer(r, name = (peer) => `${peer}:`) {
  if (r.peer === null || r.skipped || r.error) return "—";
  if (r.peerRate !== undefined) return `${name(r.peer)} ${formatRate(r.peerRate)}`;
  return `${name(r.peer)} ${formatMs(r.peerMs)}${r.timedOnce?.includes("peer") ? " (1 run)" : ""}`;
}

/** "1.1 / 1.4": slowest / fastest run of ours and the peer's. */
export function formatSpread(spread) {
  if (spread == null) return "—";
  const one = (value) => (value == null || !Number.isFinite(value) ? "—" : value.toFixed(1));
  return spread.peer == null ? one(spread.ours) : `${one(spread.ours)} / ${one(spread.peer)}`;
}
