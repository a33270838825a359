// Whether a measured case meets its target (see the Target type in cases.mjs).
// null means there is nothing to judge: no target, or the case did not run.

/**
 * @param {import("./cases.mjs").Target | null} target
 * @param {{ ratio: number | null, oursPeakRssMiB: number | null, oursRate?: number, peerRate?: number }} measured
 * @returns {{ met: boolean | null, goalMet: boolean | null }}
 */
export function judge(target, { ratio, oursPeakRssMiB, oursRate, peerRate }) {
  if (target == null) return { met: null, goalMet: null };
  const checks = [];
  if (target.ratio !== undefined) checks.push(ratio != null && ratio <= target.ratio);
  if (target.rssMiB !== undefined) checks.push(oursPeakRssMiB != null && oursPeakRssMiB < target.rssMiB);
  if (target.minRate !== undefined) checks.push(oursRate != null && oursRate >= target.minRate);
  if (target.minSpeedup !== undefined) checks.push(oursRate != null && oursRate / peerRate >= target.minSpeedup);
  return {
    met: checks.every(Boolean),
    goalMet: target.goal === undefined ? null : ratio != null && ratio <= target.goal,
  };
}

/** A growth pair (large / small) meets its target when the ratio of our medians is at most `target`. */
export const judgeGrowth = (target, ours) => (target === undefined ? null : ours != null && ours <= target);
