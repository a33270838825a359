// readPartitionTable: which scheme a disk uses and its partitions. A protective
// MBR (type 0xEE), or "EFI PART" at LBA 1, means GPT; otherwise a valid MBR
// (0x55AA and status bytes 0x00 or 0x80) means MBR; otherwise there is none,
// as on a WSL ext4.vhdx that holds one file system and no table. Bad bytes
// never throw: they end up in `findings`. Only the disk's own read errors and
// a sector size other than 512 or 4096 (INVALID_ARGUMENT) do.
import { GPT_SIGNATURE } from "./gpt-header.js";
import { type Mbr, PROTECTIVE_MBR_TYPE, decodeMbr, invalidStatusEntry, isUnusedEntry, mbrTypeText } from "./mbr.js";
import type { Partition, PartitionDisk, PartitionTable } from "./partition.js";
import { readGpt } from "./read-gpt.js";
import { readMbrPartitions } from "./read-mbr.js";
import { SectorReader } from "./sector-reader.js";

/** The partition table of a disk (a VhdxImage, or any PartitionDisk). */
export async function readPartitionTable(disk: PartitionDisk): Promise<PartitionTable> {
  const sectors = new SectorReader(disk);
  const findings: string[] = [];
  const table = (fields: Omit<PartitionTable, "sectorSize" | "findings">): PartitionTable => {
    findOverlaps(fields.partitions, findings);
    return { ...fields, sectorSize: sectors.sectorSize, findings };
  };
  const lba0 = await sectors.read(0, 1);
  if (lba0 === null) {
    findings.push(`the disk is smaller than one ${sectors.sectorSize}-byte sector`);
    return table({ scheme: "none", partitions: [] });
  }
  const mbr = decodeMbr(lba0);
  const protective = mbr.hasBootSignature && mbr.entries.some((entry) => entry.type === PROTECTIVE_MBR_TYPE);
  if (protective || (await hasGptSignature(sectors))) {
    noteMbrBesideGpt(mbr, protective, findings);
    const gpt = await readGpt(sectors, findings);
    if (gpt === null) return table({ scheme: "gpt", partitions: [] });
    return table({ scheme: "gpt", diskId: gpt.diskId, partitions: gpt.partitions, gpt: gpt.layout });
  }
  if (!mbr.hasBootSignature) return table({ scheme: "none", partitions: [] });
  const invalid = invalidStatusEntry(mbr);
  if (invalid !== undefined) {
    findings.push(
      `sector 0 ends in 0x55AA but entry ${invalid.slot + 1} has status ${mbrTypeText(invalid.status)}, so it is no MBR (a file system without a partition table?)`,
    );
    return table({ scheme: "none", partitions: [] });
  }
  const diskId = `0x${mbr.diskSignature.toString(16).padStart(8, "0")}`;
  return table({ scheme: "mbr", diskId, partitions: await readMbrPartitions(sectors, mbr, findings) });
}

async function hasGptSignature(sectors: SectorReader): Promise<boolean> {
  const lba1 = await sectors.read(1, 1);
  return lba1 !== null && String.fromCharCode(...lba1.subarray(0, 8)) === GPT_SIGNATURE;
}

function noteMbrBesideGpt(mbr: Mbr, protective: boolean, findings: string[]): void {
  if (!protective) {
    findings.push(`LBA 1 holds a GPT header but LBA 0 no protective MBR (type 0xEE); the GPT is read anyway`);
    return;
  }
  const others = mbr.entries.filter((entry) => !isUnusedEntry(entry) && entry.type !== PROTECTIVE_MBR_TYPE);
  if (others.length > 0) {
    findings.push(
      `the protective MBR also lists ${others.length} other partition(s) (a hybrid MBR); only the GPT's are shown`,
    );
  }
}

/** A finding for each partition that starts inside an earlier one; an extended partition holds its logical ones. */
function findOverlaps(partitions: readonly Partition[], findings: string[]): void {
  const placed = partitions.filter((p) => p.size > 0 && p.kind !== "extended").sort((a, b) => a.start - b.start);
  let reaching: Partition | undefined;
  for (const partition of placed) {
    if (reaching !== undefined && partition.start < reaching.start + reaching.size) {
      findings.push(`partitions ${reaching.index} and ${partition.index} overlap`);
    }
    if (reaching === undefined || partition.start + partition.size > reaching.start + reaching.size)
      reaching = partition;
  }
}
