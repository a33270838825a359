// Comparing two views of a virtual disk window by window: equal windows cost
// one memcmp; a differing window is described by its first differing byte and
// how many bytes differ, and the list of descriptions is capped.

/** Fills `target` with the view's bytes at virtual `offset`. */
export type ReadWindow = (target: Uint8Array, offset: number) => Promise<void>;

export interface ByteComparison {
  bytesCompared: number;
  mismatches: string[];
}

export interface CompareOptions {
  /** Window size in bytes (default 32 MiB). */
  window?: number;
  /** Most windows described; the rest are summed up in one last line (default 8). */
  maxMismatches?: number;
}

const DEFAULT_WINDOW = 32 * 1024 * 1024;
const DEFAULT_MAX_MISMATCHES = 8;

/** Compares `ours` with `theirs` over `ranges` ([offset, length] each), naming the two sides in messages. */
export async function compareViews(
  ranges: ReadonlyArray<readonly [number, number]>,
  ours: ReadWindow,
  theirs: ReadWindow,
  names: { ours: string; theirs: string },
  options: CompareOptions = {},
): Promise<ByteComparison> {
  const window = options.window ?? DEFAULT_WINDOW;
  const log = new MismatchLog(options.maxMismatches ?? DEFAULT_MAX_MISMATCHES, names);
  const longest = Math.min(window, Math.max(0, ...ranges.map(([, length]) => length)));
  const a = new Uint8Array(longest);
  const b = new Uint8Array(longest);
  let bytesCompared = 0;
  for (const [start, length] of ranges) {
    for (let offset = start; offset < start + length; offset += window) {
      const size = Math.min(window, start + length - offset);
      const mine = a.subarray(0, size).fill(0xee); // bytes a reader leaves untouched show up
      const other = b.subarray(0, size).fill(0x11);
      await ours(mine, offset);
      await theirs(other, offset);
      if (Buffer.compare(mine, other) !== 0) log.add(mine, other, offset);
      bytesCompared += size;
    }
  }
  return { bytesCompared, mismatches: log.lines() };
}

class MismatchLog {
  private readonly described: string[] = [];
  private extraWindows = 0;
  private extraBytes = 0;

  constructor(
    private readonly limit: number,
    private readonly names: { ours: string; theirs: string },
  ) {}

  add(mine: Uint8Array, other: Uint8Array, offset: number): void {
    let first = 0;
    while (mine[first] === other[first]) first++;
    let count = 0;
    for (let i = first; i < mine.length; i++) if (mine[i] !== other[i]) count++;
    if (this.described.length >= this.limit) {
      this.extraWindows++;
      this.extraBytes += count;
      return;
    }
    const at = offset + first;
    this.described.push(
      `virtual offset ${at} (0x${at.toString(16)}): ${this.names.ours} 0x${hex(mine[first]!)}, ${this.names.theirs} 0x${hex(other[first]!)}; ` +
        `${count} bytes differ in [${offset}, ${offset + mine.length})`,
    );
  }

  lines(): string[] {
    if (this.extraWindows === 0) return [...this.described];
    return [...this.described, `... and ${this.extraBytes} more differing bytes in ${this.extraWindows} more windows`];
  }
}

const hex = (byte: number) => byte.toString(16).padStart(2, "0");

/** [0, size) as one range. */
export function wholeDisk(size: number): Array<[number, number]> {
  return [[0, size]];
}
