// One bit per MiB of a file: which MiBs a structure or a block uses. A 64 TiB
// file costs 8 MiB. Shared by the read path's placement scan and the checker.
import { MiB } from "@vhdx/structs";

export class MiBUnits {
  private readonly bits: Uint8Array;

  constructor(fileSize: number) {
    this.bits = new Uint8Array(Math.ceil(Math.ceil(fileSize / MiB) / 8) + 1);
  }

  /** Marks [offset, offset + length) and returns whether any of it was marked before. */
  mark(offset: number, length: number): boolean {
    let seen = false;
    const end = Math.ceil((offset + length) / MiB);
    for (let unit = Math.floor(offset / MiB); unit < end; unit++) {
      const byte = unit >>> 3;
      const bit = 1 << (unit & 7);
      if (this.bits[byte]! & bit) seen = true;
      this.bits[byte]! |= bit;
    }
    return seen;
  }

  /** Whether any MiB of [offset, offset + length) is marked. */
  any(offset: number, length: number): boolean {
    const end = Math.ceil((offset + length) / MiB);
    for (let unit = Math.floor(offset / MiB); unit < end; unit++) if (this.has(unit)) return true;
    return false;
  }

  /**
   * The runs [start, end) of units below `count` marked in neither this nor
   * `other`, in order. Whole bytes of marks are passed over at once, so a
   * hostile 128 TiB file costs a scan of 16 MiB, not 2^27 calls.
   */
  *unmarkedRuns(other: MiBUnits, count: number): Generator<[start: number, end: number]> {
    let start = -1;
    for (let byte = 0; byte * 8 < count; byte++) {
      const marks = this.bits[byte]! | other.bits[byte]!;
      if ((marks === 0 && start >= 0) || (marks === 0xff && start < 0)) continue;
      for (let unit = byte * 8; unit < Math.min(byte * 8 + 8, count); unit++) {
        const marked = (marks & (1 << (unit & 7))) !== 0;
        if (!marked && start < 0) start = unit;
        else if (marked && start >= 0) {
          yield [start, unit];
          start = -1;
        }
      }
    }
    if (start >= 0) yield [start, count];
  }

  /** Whether MiB number `unit` is marked. */
  has(unit: number): boolean {
    return (this.bits[unit >>> 3]! & (1 << (unit & 7))) !== 0;
  }
}
