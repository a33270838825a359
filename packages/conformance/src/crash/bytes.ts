// Byte comparisons for the crash checks.

/** The first index where a and b differ (a length difference counts); -1 when they are equal. */
export function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const PAGE = 4096;
  const length = Math.min(a.length, b.length);
  for (let page = 0; page < length; page += PAGE) {
    const end = Math.min(length, page + PAGE);
    if (Buffer.compare(a.subarray(page, end), b.subarray(page, end)) === 0) continue;
    for (let i = page; i < end; i++) if (a[i] !== b[i]) return i;
  }
  return a.length === b.length ? -1 : length;
}

export function isAllZero(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}
