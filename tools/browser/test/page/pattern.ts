// Deterministic bytes that both the page and the Node side of a test can make,
// so a disk written in the browser can be checked against a raw file in Node.

/** `length` bytes from a small linear congruential generator seeded with `seed`. */
export function patternBytes(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let state = Math.imul(seed, 2654435761) >>> 0;
  for (let i = 0; i < length; i++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    bytes[i] = state >>> 24;
  }
  return bytes;
}

/** A write of `patternBytes(length, seed)` at `offset` of the virtual disk. */
export interface PatternWrite {
  offset: number;
  length: number;
  seed: number;
}

/** The raw virtual disk those writes make on a disk of `size` zeros. */
export function rawDisk(size: number, writes: readonly PatternWrite[]): Uint8Array {
  const disk = new Uint8Array(size);
  for (const { offset, length, seed } of writes) disk.set(patternBytes(length, seed), offset);
  return disk;
}
