// The partitions of an MBR disk: the four primary entries, then the logical
// partitions of the extended one. Those form a chain of EBRs inside the
// extended partition: in each EBR, entry 0 is a logical partition whose start
// counts from that EBR, and entry 1 points to the next EBR, counting from the
// start of the extended partition. The chain comes from the disk, so it is
// walked at most MAX_EBRS steps and never to an EBR it has seen.
import { type Mbr, type MbrEntry, decodeMbr, isExtendedType, isUnusedEntry, mbrTypeText } from "./mbr.js";
import type { Partition } from "./partition.js";
import { mbrTypeName } from "./partition-types.js";
import type { SectorReader } from "./sector-reader.js";

/** The most EBRs read: a longer chain is a finding, not a hang. */
export const MAX_EBRS = 128;
const FIRST_LOGICAL_INDEX = 5;

export async function readMbrPartitions(sectors: SectorReader, mbr: Mbr, findings: string[]): Promise<Partition[]> {
  const partitions: Partition[] = [];
  const extended = mbr.entries.filter((entry) => !isUnusedEntry(entry) && isExtendedType(entry.type));
  if (extended.length > 1) {
    findings.push(
      `the MBR has ${extended.length} extended partitions; only the logical partitions of the first are read`,
    );
  }
  for (const entry of mbr.entries) {
    if (isUnusedEntry(entry)) continue;
    const kind = isExtendedType(entry.type) ? "extended" : "primary";
    partitions.push(mbrPartition(entry, entry.slot + 1, entry.firstLba, kind, sectors, findings));
  }
  if (extended[0] !== undefined) partitions.push(...(await readLogicalPartitions(sectors, extended[0], findings)));
  return partitions;
}

async function readLogicalPartitions(
  sectors: SectorReader,
  extended: MbrEntry,
  findings: string[],
): Promise<Partition[]> {
  const partitions: Partition[] = [];
  const base = extended.firstLba;
  const end = base + extended.sectorCount;
  const seen = new Set<number>();
  let ebrLba = base;
  for (let step = 0; ; step++) {
    if (step === MAX_EBRS) {
      findings.push(`the chain of EBRs is longer than ${MAX_EBRS}; the logical partitions after it are not read`);
      break;
    }
    if (seen.has(ebrLba)) {
      findings.push(`the chain of EBRs loops back to LBA ${ebrLba}`);
      break;
    }
    seen.add(ebrLba);
    const ebr = await readEbr(sectors, ebrLba, base, end, findings);
    if (ebr === null) break;
    const [logical, link] = ebr.entries as [MbrEntry, MbrEntry];
    if (!isUnusedEntry(logical)) {
      const index = FIRST_LOGICAL_INDEX + partitions.length;
      const start = ebrLba + logical.firstLba;
      partitions.push(mbrPartition(logical, index, start, "logical", sectors, findings));
      if (start + logical.sectorCount > end)
        findings.push(`logical partition ${index} runs past the end of its extended partition`);
    }
    if (isUnusedEntry(link)) break;
    if (!isExtendedType(link.type)) {
      findings.push(
        `the EBR at LBA ${ebrLba} links to the next one with type ${mbrTypeText(link.type)}, not an extended type`,
      );
    }
    ebrLba = base + link.firstLba;
  }
  return partitions;
}

async function readEbr(
  sectors: SectorReader,
  lba: number,
  extendedStart: number,
  extendedEnd: number,
  findings: string[],
): Promise<Mbr | null> {
  if (lba < extendedStart || lba >= extendedEnd) {
    findings.push(
      `an EBR at LBA ${lba} would lie outside its extended partition (LBA ${extendedStart} to ${extendedEnd - 1})`,
    );
    return null;
  }
  const bytes = await sectors.read(lba, 1);
  if (bytes === null) {
    findings.push(`the EBR at LBA ${lba} lies past the end of the disk`);
    return null;
  }
  const ebr = decodeMbr(bytes, 0, lba * sectors.sectorSize);
  if (!ebr.hasBootSignature) {
    findings.push(
      `the EBR at LBA ${lba} lacks the 0x55AA signature; the logical partitions from there on are not read`,
    );
    return null;
  }
  return ebr;
}

function mbrPartition(
  entry: MbrEntry,
  index: number,
  firstLba: number,
  kind: Partition["kind"],
  sectors: SectorReader,
  findings: string[],
): Partition {
  if (firstLba + entry.sectorCount > sectors.sectorCount) {
    findings.push(
      `partition ${index} (LBA ${firstLba} to ${firstLba + entry.sectorCount - 1}) runs past the end of the disk (LBA ${sectors.sectorCount - 1})`,
    );
  }
  const typeName = mbrTypeName(entry.type);
  return {
    index,
    type: mbrTypeText(entry.type),
    ...(typeName === undefined ? {} : { typeName }),
    start: firstLba * sectors.sectorSize,
    size: entry.sectorCount * sectors.sectorSize,
    bootable: entry.status === 0x80,
    ...(kind === undefined ? {} : { kind }),
  };
}
