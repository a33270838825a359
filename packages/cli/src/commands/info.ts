// vhdx info: what an image is, from its header section and metadata alone;
// the BAT is not read, so a 64 TiB image answers as fast as a small one.
import { stat } from "node:fs/promises";
import { resolve } from "node:path";
import type { VhdxImage } from "@vhdx/image";
import {
  BAT_REGION_GUID,
  FILE_PARAMETERS_GUID,
  LOGICAL_SECTOR_SIZE_GUID,
  METADATA_REGION_GUID,
  PARENT_LOCATOR_GUID,
  PHYSICAL_SECTOR_SIZE_GUID,
  VIRTUAL_DISK_ID_GUID,
  VIRTUAL_DISK_SIZE_GUID,
} from "@vhdx/structs";
import {
  type Command,
  EXIT_OK,
  readAccessHelp,
  READ_ACCESS_OPTIONS,
  imageAccess,
  parseCommandArgs,
} from "../command.js";
import { openImageFile } from "../disk.js";
import { type CliIO, printLine, writeJson } from "../io.js";
import { formatSize } from "../sizes.js";

const HELP = `Usage: vhdx info [-U] [--confine-parents] [--json] FILE

Shows what a VHDX image is: its type, virtual size, block and sector sizes,
identity (virtual disk id, data and file write GUIDs), creator, log state,
size on disk, its regions and metadata items (unknown ones included), and the
chain of parents of a differencing disk. Reads the header section and the
metadata only, never the BAT. A differencing disk whose parent is missing or
does not match is still shown, with its parent locator and the problem
(--json: "parentError": {"code", "message"}); the exit status is still 0.

Options:
  --json                 machine-readable output (camelCase fields)
${readAccessHelp(25)}

Examples:
  vhdx info disk.vhdx
  vhdx info --json child.vhdx | jq .parents`;

const REGION_NAMES: Record<string, string> = { [BAT_REGION_GUID]: "BAT", [METADATA_REGION_GUID]: "metadata" };
const ITEM_NAMES: Record<string, string> = {
  [FILE_PARAMETERS_GUID]: "file parameters",
  [VIRTUAL_DISK_SIZE_GUID]: "virtual disk size",
  [VIRTUAL_DISK_ID_GUID]: "virtual disk id",
  [LOGICAL_SECTOR_SIZE_GUID]: "logical sector size",
  [PHYSICAL_SECTOR_SIZE_GUID]: "physical sector size",
  [PARENT_LOCATOR_GUID]: "parent locator",
};

export const info: Command = {
  name: "info",
  help: HELP,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(
      "info",
      args,
      { json: { type: "boolean" }, ...READ_ACCESS_OPTIONS },
      { min: 1, max: 1 },
    );
    const path = resolve(io.cwd, positionals[0]!);
    const image = await openImageFile(path, io, imageAccess(values), { requireParent: false });
    try {
      const report = await describe(image, path);
      if (values.json) writeJson(io, report);
      else printReport(io, report);
    } finally {
      await image.close();
    }
    return EXIT_OK;
  },
};

export type InfoReport = Awaited<ReturnType<typeof describe>>;

async function describe(image: VhdxImage, path: string) {
  const file = await stat(path);
  return {
    file: path,
    format: "vhdx" as const,
    diskType: image.diskType,
    virtualSize: image.virtualSize,
    blockSize: image.blockSize,
    logicalSectorSize: image.logicalSectorSize,
    physicalSectorSize: image.physicalSectorSize,
    virtualDiskId: image.virtualDiskId,
    dataWriteGuid: image.dataWriteGuid,
    fileWriteGuid: image.fileWriteGuid,
    creator: image.creator,
    fileSize: file.size,
    allocatedSize: file.blocks * 512,
    log: {
      guid: image.logGuid,
      offset: image.header.logOffset,
      length: image.header.logLength,
      needsReplay: image.needsReplay,
    },
    headerSequenceNumber: image.header.sequenceNumber.toString(),
    regions: image.regionTable.entries.map((entry) => ({
      guid: entry.guid,
      name: REGION_NAMES[entry.guid] ?? "unknown",
      offset: entry.fileOffset,
      length: entry.length,
      required: entry.required,
    })),
    metadataItems: image.metadata.table.entries.map((entry) => ({
      itemId: entry.itemId,
      name: entry.isUser ? "user" : (ITEM_NAMES[entry.itemId] ?? "unknown"),
      offset: entry.offset,
      length: entry.length,
      isUser: entry.isUser,
      isVirtualDisk: entry.isVirtualDisk,
      isRequired: entry.isRequired,
    })),
    parentLocator: image.parentLocator,
    parents: chainOf(image),
    parentError: parentErrorOf(image),
  };
}

/** Why the chain stops short: the deepest image's parent problem, or null. */
function parentErrorOf(image: VhdxImage): { code: string; message: string } | null {
  let last = image;
  while (last.parent !== null) last = last.parent;
  return last.parentError === null ? null : { code: last.parentError.code, message: last.parentError.message };
}

function chainOf(image: VhdxImage) {
  const parents = [];
  for (let parent = image.parent; parent !== null; parent = parent.parent) {
    parents.push({
      file: parent.source.name,
      diskType: parent.diskType,
      dataWriteGuid: parent.dataWriteGuid,
      virtualSize: parent.virtualSize,
    });
  }
  return parents;
}

function printReport(io: CliIO, report: InfoReport): void {
  const line = (label: string, value: string) => printLine(io, `${`${label}:`.padEnd(22)}${value}`);
  line("file", report.file);
  line("format", report.format);
  line("type", report.diskType);
  line("virtual size", `${formatSize(report.virtualSize)} (${report.virtualSize} bytes)`);
  line("block size", formatSize(report.blockSize));
  line("sector size", `${report.logicalSectorSize} logical, ${report.physicalSectorSize} physical`);
  line("file size", `${formatSize(report.fileSize)}, ${formatSize(report.allocatedSize)} allocated on disk`);
  line("virtual disk id", report.virtualDiskId);
  line("data write guid", report.dataWriteGuid);
  line("file write guid", report.fileWriteGuid);
  line("creator", report.creator || "(none)");
  line(
    "log",
    report.log.needsReplay ? `needs replay (LogGuid ${report.log.guid}); vhdx check --repair replays it` : "clean",
  );
  printLine(io, "regions:");
  for (const region of report.regions) {
    printLine(
      io,
      `  ${region.name.padEnd(22)}${hex(region.offset)}  ${formatSize(region.length).padEnd(10)} ${region.required ? "required" : "optional"}  ${region.guid}`,
    );
  }
  printLine(io, "metadata items:");
  for (const item of report.metadataItems) {
    const flags = [item.isUser && "user", item.isVirtualDisk && "virtual-disk", item.isRequired && "required"]
      .filter(Boolean)
      .join(",");
    printLine(
      io,
      `  ${item.name.padEnd(22)}${hex(item.offset)}  ${`${item.length} bytes`.padEnd(10)} ${flags.padEnd(22)} ${item.itemId}`,
    );
  }
  if (report.parentLocator) {
    printLine(io, "parent locator:");
    for (const [key, value] of Object.entries(report.parentLocator)) printLine(io, `  ${key.padEnd(22)}${value}`);
  }
  if (report.parents.length > 0) {
    printLine(io, "parents:");
    report.parents.forEach((parent, depth) =>
      printLine(io, `  ${depth + 1}. ${parent.file} (${parent.diskType}, DataWriteGuid ${parent.dataWriteGuid})`),
    );
  }
  if (report.parentError !== null) line("parent problem", `${report.parentError.code}: ${report.parentError.message}`);
}

function hex(value: number): string {
  return `0x${value.toString(16)}`.padEnd(12);
}
