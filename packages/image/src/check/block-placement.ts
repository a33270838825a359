// The BAT pass over where blocks lie (MS-VHDX 2.5): every block that holds
// data lies past the header section, inside the file, over no structure and
// over no other block. An overlap is seen at the block that comes second; a
// second pass over the BAT, only when there are overlaps, names the block
// each one overlaps (see nameOwner).
import { MAX_SAFE_FILE_OFFSET_MB } from "@vhdx/bat";
import { MiB } from "@vhdx/structs";
import { MiBUnits } from "../internal/mib-units.js";
import type { Extent } from "../open/layout.js";
import { type CheckedEntry, describeBlock, describeEntry } from "./bat-entries.js";
import { type Findings, hex } from "./findings.js";

/** Overlaps whose first owner the second pass looks for; more are reported without it. */
const MAX_NAMED_OVERLAPS = 1000;

interface Overlap {
  entry: CheckedEntry;
  offset: number;
  /** The earlier block it overlaps, once the second pass found it. */
  owner: string | null;
}

export class BlockPlacement {
  private readonly overlaps: Overlap[] = [];
  private readonly overlapUnits: MiBUnits;

  /** `used` holds the structures' MiBs, and gets each placed block's. */
  constructor(
    private readonly used: MiBUnits,
    private readonly structures: readonly Extent[],
    private readonly fileSize: number,
    private readonly findings: Findings,
  ) {
    this.overlapUnits = new MiBUnits(fileSize);
  }

  get hasOverlaps(): boolean {
    return this.overlaps.length > 0;
  }

  /** Places a block that holds data, reporting where it may not lie. */
  place(entry: CheckedEntry): void {
    const mb = entry.fileOffsetMB;
    const offset = mb * MiB;
    const end = offset + entry.length;
    if (mb === 0) {
      this.error(
        entry,
        "BLOCK_IN_HEADER_SECTION",
        `${describeEntry(entry)} is present at FileOffsetMB 0, inside the header section`,
      );
    } else if (mb > MAX_SAFE_FILE_OFFSET_MB || end > this.fileSize) {
      const range = mb > MAX_SAFE_FILE_OFFSET_MB ? `FileOffsetMB ${mb}` : `${hex(offset)}-${hex(end)}`;
      this.error(
        entry,
        "BLOCK_PAST_EOF",
        `${describeEntry(entry)} points at ${range}, past the end of the file (${hex(this.fileSize)})`,
      );
    } else if (this.used.mark(offset, entry.length)) {
      this.overlapping(entry, offset);
    }
  }

  private overlapping(entry: CheckedEntry, offset: number): void {
    const end = offset + entry.length;
    const at = `${describeEntry(entry)} at ${hex(offset)}-${hex(end)}`;
    const structure = this.structures.find((s) => s.offset < end && offset < s.offset + s.length);
    if (structure !== undefined) {
      this.error(
        entry,
        "BLOCK_OVERLAPS_STRUCTURE",
        `${at} overlaps the ${structure.name} (${hex(structure.offset)}-${hex(structure.offset + structure.length)})`,
      );
    } else if (this.overlaps.length < MAX_NAMED_OVERLAPS) {
      this.overlaps.push({ entry, offset, owner: null });
      this.overlapUnits.mark(offset, entry.length);
    } else {
      this.error(entry, "BLOCK_OVERLAP", `${at} overlaps another block`);
    }
  }

  private error(
    entry: CheckedEntry,
    rule: "BLOCK_IN_HEADER_SECTION" | "BLOCK_PAST_EOF" | "BLOCK_OVERLAPS_STRUCTURE" | "BLOCK_OVERLAP",
    message: string,
  ): void {
    this.findings.error({ rule, code: "CORRUPT_BAT", structure: "BAT", offset: entry.at, message });
  }

  /** Second pass, for each block that holds data: names it as the owner of the later overlaps over its MiBs. */
  nameOwner(entry: CheckedEntry): void {
    const mb = entry.fileOffsetMB;
    if (mb === 0 || mb > MAX_SAFE_FILE_OFFSET_MB) return;
    const offset = mb * MiB;
    const end = offset + entry.length;
    if (end > this.fileSize || !this.overlapUnits.any(offset, entry.length)) return;
    for (const overlap of this.overlaps) {
      const later = overlap.entry;
      if (
        overlap.owner === null &&
        entry.index < later.index &&
        offset < overlap.offset + later.length &&
        overlap.offset < end
      ) {
        const the = entry.sectorBitmap ? "the " : "";
        overlap.owner = `${the}${describeBlock(entry)} (entry ${entry.index}, ${hex(offset)}-${hex(end)})`;
      }
    }
  }

  /** Reports the overlaps the first pass set aside, each with its owner when the second pass found it. */
  reportOverlaps(): void {
    for (const { entry, offset, owner } of this.overlaps) {
      this.error(
        entry,
        "BLOCK_OVERLAP",
        `${describeEntry(entry)} at ${hex(offset)}-${hex(offset + entry.length)} overlaps ${owner ?? "another block"}`,
      );
    }
  }
}
