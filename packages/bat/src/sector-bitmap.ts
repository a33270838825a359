// MS-VHDX 2.4 Blocks (sector bitmap blocks): a sector bitmap block is 1 MiB
// holding one bit per logical sector of a chunk (2^23 sectors). Bit 0 of byte 0
// is the chunk's first sector; 1 = the sector is in this file, 0 = read it from
// the parent. These functions take any Uint8Array holding the bits (usually
// the 1 MiB block, or a part of it starting at its first byte).
import { VhdxError } from "@vhdx/structs";

/** True when sector `sectorInChunk` is present in this file. */
export function isSectorPresent(bitmap: Uint8Array, sectorInChunk: number): boolean {
  checkSector(bitmap, sectorInChunk);
  return ((bitmap[sectorInChunk >>> 3]! >>> (sectorInChunk & 7)) & 1) === 1;
}

/** Sets (present) or clears the bits of `count` sectors from `firstSector`. */
export function setSectorRange(bitmap: Uint8Array, firstSector: number, count: number, present: boolean): void {
  checkRange(bitmap, firstSector, count);
  if (count === 0) return;
  const last = firstSector + count - 1;
  const firstByte = firstSector >>> 3;
  const lastByte = last >>> 3;
  const headMask = (0xff << (firstSector & 7)) & 0xff;
  const tailMask = 0xff >>> (7 - (last & 7));
  if (firstByte === lastByte) {
    applyMask(bitmap, firstByte, headMask & tailMask, present);
    return;
  }
  applyMask(bitmap, firstByte, headMask, present);
  bitmap.fill(present ? 0xff : 0, firstByte + 1, lastByte);
  applyMask(bitmap, lastByte, tailMask, present);
}

/**
 * How many consecutive sectors from `firstSector` share its bit, capped at
 * `maxCount` and at the end of `bitmap`. Skips whole 32-bit words and bytes
 * of 0x00 or 0xFF; allocates nothing (one word view per ArrayBuffer is cached).
 */
export function sectorRunLength(bitmap: Uint8Array, firstSector: number, maxCount: number): number {
  if (!(bitmap instanceof Uint8Array)) throw new TypeError("sector bitmap must be a Uint8Array");
  const bits = bitmap.length * 8;
  if (firstSector >>> 0 !== firstSector || firstSector >= bits || !(maxCount >= 0) || maxCount % 1 !== 0) {
    throw new VhdxError(
      "OUT_OF_RANGE",
      `run from sector ${firstSector}, at most ${maxCount}, is outside the bitmap's ${bits} sectors`,
      {
        structure: "sector bitmap",
      },
    );
  }
  const limit = Math.min(maxCount, bits - firstSector);
  const first = bitmap[firstSector >>> 3]!;
  const shift = firstSector & 7;
  const fill = (first >>> shift) & 1 ? 0xff : 0;

  // The rest of the first byte: a set bit in `head` is a sector that differs.
  const head = (first ^ fill) >>> shift;
  if (head !== 0) {
    const run = lowestBit(head);
    return Math.min(run, limit);
  }

  // Whole bytes (and words) equal to the fill byte, then the byte that differs
  // or the partial byte at the end.
  const end = firstSector + limit;
  const byte = skipFilledBytes(bitmap, (firstSector >>> 3) + 1, end >>> 3, fill);
  if (byte * 8 >= end) return limit;
  const differs = bitmap[byte]! ^ fill;
  if (differs === 0) return limit;
  const run = byte * 8 + lowestBit(differs) - firstSector;
  return Math.min(run, limit);
}

// Runs shorter than this many bytes are scanned byte by byte; longer ones word by word.
const BYTE_SCAN_BYTES = 32;
const wordViews = new WeakMap<ArrayBufferLike, Uint32Array>();

/** The first byte index in [from, to) not equal to `fill`, or `to`. */
function skipFilledBytes(bitmap: Uint8Array, from: number, to: number, fill: number): number {
  let byte = from;
  const shortEnd = Math.min(to, from + BYTE_SCAN_BYTES);
  while (byte < shortEnd && bitmap[byte] === fill) byte++;
  if (byte === shortEnd && to - byte >= BYTE_SCAN_BYTES) {
    const base = bitmap.byteOffset;
    while ((base + byte) & 3) {
      if (bitmap[byte] !== fill) return byte;
      byte++;
    }
    const words = wordView(bitmap.buffer);
    const fillWord = fill === 0 ? 0 : 0xffffffff;
    let word = (base + byte) >>> 2;
    const wordEnd = (base + to) >>> 2;
    while (word < wordEnd && words[word] === fillWord) word++;
    byte = word * 4 - base;
  }
  while (byte < to && bitmap[byte] === fill) byte++;
  return byte;
}

function wordView(buffer: ArrayBufferLike): Uint32Array {
  let words = wordViews.get(buffer);
  if (words === undefined || words.length !== buffer.byteLength >>> 2) {
    words = new Uint32Array(buffer, 0, buffer.byteLength >>> 2);
    wordViews.set(buffer, words);
  }
  return words;
}

/** Index of the lowest set bit of a nonzero byte. */
function lowestBit(value: number): number {
  return 31 - Math.clz32(value & -value);
}

function applyMask(bitmap: Uint8Array, byte: number, mask: number, present: boolean): void {
  bitmap[byte] = present ? bitmap[byte]! | mask : bitmap[byte]! & ~mask;
}

function checkSector(bitmap: Uint8Array, sector: number): void {
  if (!(bitmap instanceof Uint8Array)) throw new TypeError("sector bitmap must be a Uint8Array");
  if (!Number.isInteger(sector) || sector < 0 || sector >= bitmap.length * 8) {
    throw new VhdxError("OUT_OF_RANGE", `sector ${sector} is outside the bitmap's ${bitmap.length * 8} sectors`, {
      structure: "sector bitmap",
    });
  }
}

function checkRange(bitmap: Uint8Array, first: number, count: number): void {
  if (!(bitmap instanceof Uint8Array)) throw new TypeError("sector bitmap must be a Uint8Array");
  const bits = bitmap.length * 8;
  if (!Number.isInteger(first) || !Number.isInteger(count) || first < 0 || count < 0 || first + count > bits) {
    throw new VhdxError("OUT_OF_RANGE", `sectors ${first}+${count} are outside the bitmap's ${bits} sectors`, {
      structure: "sector bitmap",
    });
  }
}
