// Where the log and the regions lie (MS-VHDX 2.2, 2.2.3): each at a 1 MiB
// multiple past the header section, and nothing overlapping anything else.
import {
  BAT_REGION_GUID,
  HEADER_SECTION_SIZE,
  type Header,
  METADATA_REGION_GUID,
  MiB,
  REGION_TABLE_1_OFFSET,
  type RegionTable,
  type RegionTableEntry,
  VhdxError,
  assertValid,
  validateRegionTable,
} from "@vhdx/structs";

export interface Extent {
  name: string;
  offset: number;
  length: number;
}

export interface Layout {
  bat: RegionTableEntry;
  metadata: RegionTableEntry;
  /** The log, or null when LogLength is zero. */
  log: Extent | null;
  /** Every extent the file's structures occupy, header section included, sorted by offset. */
  extents: Extent[];
}

export function checkLayout(
  header: Header,
  regionTable: RegionTable,
  regionTableOffset = REGION_TABLE_1_OFFSET,
): Layout {
  const log = header.logLength === 0 ? null : { name: "log", offset: header.logOffset, length: header.logLength };
  const violations = validateRegionTable(regionTable, log === null ? {} : { log });
  // Reserved fields are the writer's business; refusing a file over them helps nobody.
  assertValid(
    violations.filter((v) => v.rule !== "RESERVED"),
    { structure: "region table", offset: regionTableOffset },
  );
  const bat = requiredRegion(regionTable, BAT_REGION_GUID, "BAT", regionTableOffset);
  const metadata = requiredRegion(regionTable, METADATA_REGION_GUID, "metadata", regionTableOffset);
  const extents: Extent[] = [{ name: "header section", offset: 0, length: HEADER_SECTION_SIZE }];
  if (log !== null) extents.push(checkedExtent(log, "header", "logOffset"));
  for (const entry of regionTable.entries) {
    extents.push(
      checkedExtent(
        { name: regionName(entry.guid), offset: entry.fileOffset, length: entry.length },
        "region table",
        "entries",
      ),
    );
  }
  extents.sort((a, b) => a.offset - b.offset);
  checkNoOverlap(extents);
  return { bat, metadata, log, extents };
}

function regionName(guid: string): string {
  if (guid === BAT_REGION_GUID) return "BAT region";
  if (guid === METADATA_REGION_GUID) return "metadata region";
  return `region ${guid}`;
}

function requiredRegion(table: RegionTable, guid: string, name: string, offset: number): RegionTableEntry {
  const entry = table.entries.find((e) => e.guid === guid);
  if (entry === undefined) {
    throw new VhdxError("MISSING_REGION", `has no ${name} region (${guid})`, { structure: "region table", offset });
  }
  if (entry.length === 0) {
    throw new VhdxError("BAD_FIELD", `the ${name} region has length 0`, { structure: "region table", offset });
  }
  return entry;
}

function checkedExtent(extent: Extent, structure: string, field: string): Extent {
  const problem =
    extent.offset % MiB !== 0 || extent.length % MiB !== 0
      ? "is not 1 MiB-aligned"
      : extent.offset < HEADER_SECTION_SIZE
        ? "starts inside the header section"
        : !Number.isSafeInteger(extent.offset + extent.length)
          ? "ends past 2^53"
          : null;
  if (problem !== null) {
    const code = problem.includes("header section") ? "REGION_OVERLAP" : "BAD_FIELD";
    throw new VhdxError(
      code,
      `${extent.name} at 0x${extent.offset.toString(16)}, length 0x${extent.length.toString(16)}, ${problem}`,
      {
        structure,
        field,
        offset: extent.offset,
      },
    );
  }
  return extent;
}

function checkNoOverlap(sorted: Extent[]): void {
  for (let i = 1; i < sorted.length; i++) {
    const before = sorted[i - 1]!;
    const current = sorted[i]!;
    if (current.offset < before.offset + before.length) {
      throw new VhdxError(
        "REGION_OVERLAP",
        `${current.name} at 0x${current.offset.toString(16)} overlaps ${before.name} (0x${before.offset.toString(16)}-0x${(before.offset + before.length).toString(16)})`,
        { structure: "layout", offset: current.offset },
      );
    }
  }
}
