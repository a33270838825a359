// The one seeded generator of the suite (splitmix32-style mixing over a
// 32-bit state): every mutant, workload, cut sample and torn write is a
// function of the run's seed, so any failure can be replayed.

export class Prng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** The generator for mutant `index` of the run with `seed`. */
  static forMutant(seed: number, index: number): Prng {
    return new Prng(mix(mix(seed >>> 0) ^ Math.imul(index + 1, 0x9e3779b9)));
  }

  /** A uniform unsigned 32-bit integer. */
  next(): number {
    this.state = (this.state + 0x9e3779b9) >>> 0;
    return mix(this.state);
  }

  /** A number in [0, 1). */
  fraction(): number {
    return this.next() / 0x1_0000_0000;
  }

  /** An integer in [0, bound). */
  int(bound: number): number {
    if (bound <= 1) return 0;
    if (bound <= 0x1_0000_0000) return Math.floor((this.next() / 0x1_0000_0000) * bound);
    return Math.floor(((this.next() * 0x1_0000_0000 + this.next()) / 2 ** 64) * bound);
  }

  /** An integer in [low, high]. */
  range(low: number, high: number): number {
    return low + this.int(high - low + 1);
  }

  chance(probability: number): boolean {
    return this.next() / 0x1_0000_0000 < probability;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error("Prng.pick: no items");
    return items[this.int(items.length)]!;
  }

  /** Picks by weight: `choices` are [weight, value] pairs. */
  weighted<T>(choices: ReadonlyArray<readonly [number, T]>): T {
    const total = choices.reduce((sum, [weight]) => sum + weight, 0);
    let at = (this.next() / 0x1_0000_0000) * total;
    for (const [weight, value] of choices) {
      if (at < weight) return value;
      at -= weight;
    }
    return choices[choices.length - 1]![1];
  }

  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i += 4) {
      const word = this.next();
      for (let j = 0; j < 4 && i + j < length; j++) out[i + j] = (word >>> (j * 8)) & 0xff;
    }
    return out;
  }
}

function mix(value: number): number {
  let z = value >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** A seed for one part of a run, mixed from the run's seed and the part's numbers. */
export function deriveSeed(seed: number, ...parts: number[]): number {
  let h = seed >>> 0;
  for (const part of parts) h = Math.imul(h ^ (part >>> 0), 0x9e3779b1) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}
