// --salvage for cat and convert: the source VHDX is opened with @vhdx/image's
// `salvage`, so a block whose BAT entry cannot be trusted, or whose read
// fails, reads as zeros instead of stopping the copy. Afterwards each range
// read as zeros is one line on stderr, and the exit status is
// EXIT_INCOMPLETE: the output is whole but some of the disk is missing.
import type { SalvagedRange } from "@vhdx/image";
import { EXIT_INCOMPLETE, EXIT_OK } from "./exit-status.js";
import { type ImageAccess, imageAccess } from "./command.js";
import type { Disk } from "./disk.js";
import { type CliIO, writeLine } from "./io.js";
import { formatSize } from "./sizes.js";

export const SALVAGE_OPTIONS = {
  salvage: { type: "boolean" },
} as const;

/** -U, --confine-parents and --salvage, as openDisk takes them. */
export function salvageAccess(values: {
  "force-share"?: boolean;
  "confine-parents"?: boolean;
  salvage?: boolean;
}): ImageAccess {
  return { ...imageAccess(values), salvage: values.salvage === true };
}

/** The ranges the copy read as zeros (none for a raw disk, or without --salvage). */
function salvagedRanges(disk: Disk): readonly SalvagedRange[] {
  return disk.image?.salvaged ?? [];
}

/** With --salvage, the list for --json: `salvaged`, empty when nothing was read as zeros. */
export function salvagedJson(disk: Disk, salvage: boolean | undefined): { salvaged?: readonly SalvagedRange[] } {
  return salvage === true ? { salvaged: salvagedRanges(disk) } : {};
}

/**
 * Lists each range read as zeros on stderr, one line each (even with -q: it
 * says what the output lacks), then a total; EXIT_INCOMPLETE when there are
 * any, EXIT_OK when none.
 */
export function salvageStatus(io: CliIO, command: string, disk: Disk): number {
  const ranges = salvagedRanges(disk);
  if (ranges.length === 0) return EXIT_OK;
  for (const range of ranges) writeLine(io.stderr, `vhdx ${command}: ${describeRange(range)}`);
  const bytes = ranges.reduce((sum, range) => sum + range.length, 0);
  const count = ranges.length === 1 ? "1 range" : `${ranges.length} ranges`;
  writeLine(
    io.stderr,
    `vhdx ${command}: incomplete: ${count} of the disk (${formatSize(bytes)}) read as zeros (--salvage); exit status ${EXIT_INCOMPLETE}`,
  );
  return EXIT_INCOMPLETE;
}

/** `salvaged 0x100000-0x200000 (1 MiB) as zeros: payload block 1 of d.vhdx (BAT entry 1 @0x300008, file offset ...): CODE: message` */
function describeRange(range: SalvagedRange): string {
  const end = range.virtualOffset + range.length;
  const file = range.fileOffset === null ? "no file offset" : `file offset ${hex(range.fileOffset)}`;
  return (
    `salvaged ${hex(range.virtualOffset)}-${hex(end)} (${formatSize(range.length)}) as zeros: ` +
    `payload block ${range.block} of ${range.file} (BAT entry ${range.batIndex} @${hex(range.entryOffset)}, ` +
    `${range.state}, ${file}): ${range.code}: ${range.message}`
  );
}

function hex(value: number): string {
  return `0x${value.toString(16)}`;
}
