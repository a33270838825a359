// Reading a damaged file: what lies past the end of the source reads as
// zeros, so a truncated file is checked as far as it goes.
import { REGION_TABLE_2_OFFSET, REGION_TABLE_SIZE } from "@vhdx/structs";
import type { RandomAccessSource } from "../sources/source.js";

/** The file identifier, both headers and both region tables: the first 320 KiB. */
const HEADER_AREA_LENGTH = REGION_TABLE_2_OFFSET + REGION_TABLE_SIZE;

/** Fills `into` from `position`; bytes past the end of the source are zeros. */
export async function readPaddedInto(
  source: RandomAccessSource,
  into: Uint8Array,
  position: number,
): Promise<Uint8Array> {
  let done = 0;
  while (done < into.length) {
    const count = await source.read(into.subarray(done), position + done);
    if (count <= 0) break;
    done += count;
  }
  into.fill(0, done);
  return into;
}

/** Reads `length` bytes at `offset` into a new array; bytes past the end of the source are zeros. */
export function readPadded(source: RandomAccessSource, offset: number, length: number): Promise<Uint8Array> {
  return readPaddedInto(source, new Uint8Array(length), offset);
}

export function readHeaderArea(source: RandomAccessSource): Promise<Uint8Array> {
  return readPadded(source, 0, HEADER_AREA_LENGTH);
}

/** Whether bytes [a, a + length) equal bytes [b, b + length). */
export function sameBytes(bytes: Uint8Array, a: number, b: number, length: number): boolean {
  for (let i = 0; i < length; i++) if (bytes[a + i] !== bytes[b + i]) return false;
  return true;
}
