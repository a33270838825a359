// How sizes and offsets read on the page, the way `vhdx info` prints them.

const UNITS = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB"];

/** 1536 -> "1.5 KiB", 68719476736 -> "64 GiB". */
export function formatSize(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} bytes` : `${Number.isInteger(value) ? value : value.toFixed(1)} ${UNITS[unit]}`;
}

export function hex(value: number): string {
  return `0x${value.toString(16)}`;
}

/** A share as a percentage, never rounding a non-zero share to "0%". */
export function formatShare(part: number, whole: number): string {
  if (whole === 0 || part === 0) return "0%";
  const percent = (part / whole) * 100;
  if (percent < 0.1) return "<0.1%";
  return `${percent >= 10 ? Math.round(percent) : percent.toFixed(1)}%`;
}
