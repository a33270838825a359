// The crash tests draw whole numbers below a limit from the suite's generator.
import { Prng } from "../random.js";

export { deriveSeed } from "../random.js";

/** Returns whole numbers in [0, limit). */
export type Random = (limit: number) => number;

export function seededRandom(seed: number): Random {
  const prng = new Prng(seed);
  return (limit) => prng.int(limit);
}
