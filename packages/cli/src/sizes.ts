// Sizes on the command line: a number of bytes, or a number with a binary
// suffix K, M, G or T (KiB, MiB, ...; "B" and "iB" may follow).
import { VhdxError } from "@vhdx/structs";

const UNITS: Record<string, number> = { "": 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40, p: 2 ** 50 };

export function parseSize(text: string, what = "size"): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?\s*$/i.exec(text);
  const value = match ? Number(match[1]) * UNITS[match[2]!.toLowerCase()]! : NaN;
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new VhdxError(
      "INVALID_ARGUMENT",
      `${what} ${JSON.stringify(text)} is not a size (bytes, or a number with K, M, G or T)`,
    );
  }
  return value;
}

/** 1536 -> "1.5 KiB", 68719476736 -> "64 GiB". */
export function formatSize(bytes: number): string {
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} bytes` : `${Number.isInteger(value) ? value : value.toFixed(1)} ${units[unit]}`;
}

/** --block-size and the sector size options of create and convert, those given only. */
export function parseLayoutOptions(values: {
  "block-size"?: string | undefined;
  "logical-sector-size"?: string | undefined;
  "physical-sector-size"?: string | undefined;
}): { blockSize?: number; logicalSectorSize?: 512 | 4096; physicalSectorSize?: 512 | 4096 } {
  const logical = values["logical-sector-size"];
  const physical = values["physical-sector-size"];
  return {
    ...(values["block-size"] === undefined ? {} : { blockSize: parseSize(values["block-size"], "--block-size") }),
    ...(logical === undefined ? {} : { logicalSectorSize: sectorSize(logical, "--logical-sector-size") }),
    ...(physical === undefined ? {} : { physicalSectorSize: sectorSize(physical, "--physical-sector-size") }),
  };
}

function sectorSize(text: string, option: string): 512 | 4096 {
  if (text === "512" || text === "4096") return Number(text) as 512 | 4096;
  throw new VhdxError("INVALID_ARGUMENT", `${option} takes 512 or 4096, not ${JSON.stringify(text)}`);
}
