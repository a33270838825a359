// Where to cut the power. A workload of `total` mutating operations has
// total + 1 cut points: before operation 0, ..., before operation total - 1,
// and after the last (nothing is lost, but the run still counts as a restart).
// "full" takes them all; "short" takes them all for small workloads and a
// stratified sample (one seeded point per stretch, and always the first and
// the last) for larger ones.
import { deriveSeed, seededRandom } from "./random.js";

export type CrashProfile = "short" | "full";

/** At most this many cut points per workload in the short profile. */
export const SHORT_PROFILE_CUTS = 24;

/** The cut points 0..total to use: all of them, or at most `limit` in the short profile. */
export function cutPoints(total: number, profile: CrashProfile, seed: number, limit = SHORT_PROFILE_CUTS): number[] {
  const all = total + 1;
  if (profile === "full" || all <= limit) return Array.from({ length: all }, (_, cut) => cut);
  const random = seededRandom(deriveSeed(seed, total));
  const inner = limit - 2;
  const stretch = (total - 1) / inner;
  const points = [0];
  for (let k = 0; k < inner; k++) {
    const from = 1 + Math.floor(k * stretch);
    const to = 1 + Math.floor((k + 1) * stretch);
    points.push(from + random(Math.max(1, to - from)));
  }
  points.push(total);
  return [...new Set(points)];
}
