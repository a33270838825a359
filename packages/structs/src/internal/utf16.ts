// UTF-16LE by code unit. Written by hand rather than with TextDecoder: the
// portable packages compile without DOM or Node types, and decoding unit by
// unit keeps even a lone surrogate, so decode then encode gives the same bytes.

/** Code units fed to one String.fromCharCode call, well under engine argument limits. */
const CHUNK_UNITS = 4096;

/** The string in `bytes[start, start + byteLength)`; an odd last byte is ignored. */
export function decodeUtf16le(bytes: Uint8Array, start: number, byteLength: number): string {
  const unitCount = byteLength >>> 1;
  let text = "";
  for (let first = 0; first < unitCount; first += CHUNK_UNITS) {
    const count = Math.min(CHUNK_UNITS, unitCount - first);
    const units = new Array<number>(count);
    for (let i = 0; i < count; i++) {
      const p = start + 2 * (first + i);
      units[i] = bytes[p]! | (bytes[p + 1]! << 8);
    }
    text += String.fromCharCode(...units);
  }
  return text;
}

/** Number of code units before the first NUL, or all of them. */
export function utf16UnitsBeforeNul(bytes: Uint8Array, start: number, byteLength: number): number {
  const unitCount = byteLength >>> 1;
  for (let i = 0; i < unitCount; i++) {
    const p = start + 2 * i;
    if (bytes[p] === 0 && bytes[p + 1] === 0) return i;
  }
  return unitCount;
}

/** Writes `text` as UTF-16LE at `position`; the caller has made room for 2 bytes per code unit. */
export function writeUtf16le(text: string, target: Uint8Array, position: number): void {
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    target[position + 2 * i] = unit & 0xff;
    target[position + 2 * i + 1] = unit >>> 8;
  }
}
