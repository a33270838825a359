// The GUID partition table in use: the primary header at LBA 1 with its entry
// array when both check out, else the backup at the disk's last LBA. With a
// good primary, the backup is checked too, since a tool that resizes or
// repairs the disk needs to know.
import { crc32 } from "./crc32.js";
import { LEGACY_BIOS_BOOTABLE, type GptEntry, decodeGptEntries } from "./gpt-entries.js";
import {
  type GptHeader,
  decodeGptHeader,
  entryArrayBytes,
  entryArraySectors,
  hex32,
  validateGptHeader,
} from "./gpt-header.js";
import type { GptLayout, Partition } from "./partition.js";
import { gptTypeName } from "./partition-types.js";
import type { SectorReader } from "./sector-reader.js";

interface LoadedGpt {
  header: GptHeader;
  entries: GptEntry[];
}

type Attempt = { gpt: LoadedGpt } | { problems: string[] };

export interface GptTable {
  diskId: string;
  layout: GptLayout;
  partitions: Partition[];
}

/** The GPT's partitions, or null when neither header can be used; what is wrong goes to `findings`. */
export async function readGpt(sectors: SectorReader, findings: string[]): Promise<GptTable | null> {
  const lastLba = BigInt(sectors.sectorCount - 1);
  const primary = await loadGpt(sectors, 1n);
  if ("gpt" in primary) {
    await checkBackup(sectors, primary.gpt.header, findings);
    return gptTable(primary.gpt, "primary", sectors, findings);
  }
  const primaryWhy = `the primary GPT header at LBA 1 cannot be used: ${primary.problems.join("; ")}`;
  const backup = await loadGpt(sectors, lastLba);
  if ("gpt" in backup) {
    findings.push(`${primaryWhy}; the backup at LBA ${lastLba} is used`);
    return gptTable(backup.gpt, "backup", sectors, findings);
  }
  findings.push(primaryWhy, `the backup GPT header at LBA ${lastLba} cannot be used: ${backup.problems.join("; ")}`);
  return null;
}

async function loadGpt(sectors: SectorReader, lba: bigint): Promise<Attempt> {
  const { sectorSize } = sectors;
  const bytes = await sectors.read(lba, 1);
  if (bytes === null) return { problems: ["it lies past the end of the disk"] };
  const header = decodeGptHeader(bytes, 0, sectorSize, Number(lba) * sectorSize);
  const problems = validateGptHeader(header, { lba, sectorSize, sectorCount: BigInt(sectors.sectorCount) });
  if (problems.length > 0) return { problems };
  const arraySectors = entryArraySectors(header, sectorSize);
  // validateGptHeader bounded the array to 1 MiB inside the disk.
  const array = arraySectors === 0 ? new Uint8Array(0) : await sectors.read(header.entryArrayLba, arraySectors);
  const entryBytes = (array ?? new Uint8Array(0)).subarray(0, entryArrayBytes(header));
  const computed = crc32(entryBytes);
  if (computed !== header.entryArrayCrc32) {
    return {
      problems: [
        `its partition entry array's CRC-32 is ${hex32(header.entryArrayCrc32)} but the array gives ${hex32(computed)}`,
      ],
    };
  }
  const arrayOffset = Number(header.entryArrayLba) * sectorSize;
  return { gpt: { header, entries: decodeGptEntries(entryBytes, header.entryCount, header.entrySize, arrayOffset) } };
}

async function checkBackup(sectors: SectorReader, primary: GptHeader, findings: string[]): Promise<void> {
  const lastLba = BigInt(sectors.sectorCount - 1);
  const at = primary.alternateLba;
  if (at !== lastLba) {
    findings.push(
      `the primary GPT header puts the backup at LBA ${at}, not at the disk's last LBA ${lastLba}: the disk changed size after it was partitioned`,
    );
  }
  if (primary.lastUsableLba > lastLba) {
    findings.push(`the GPT's last usable LBA ${primary.lastUsableLba} is past the end of the disk (LBA ${lastLba})`);
  }
  const backup = await loadGpt(sectors, at);
  if ("problems" in backup) {
    findings.push(`the backup GPT header at LBA ${at} cannot be used: ${backup.problems.join("; ")}`);
  } else if (!sameEntries(primary, backup.gpt.header)) {
    findings.push(`the backup GPT at LBA ${at} lists other partitions than the primary`);
  }
}

function sameEntries(a: GptHeader, b: GptHeader): boolean {
  return a.entryArrayCrc32 === b.entryArrayCrc32 && a.entryCount === b.entryCount && a.entrySize === b.entrySize;
}

function gptTable(
  gpt: LoadedGpt,
  headerUsed: "primary" | "backup",
  sectors: SectorReader,
  findings: string[],
): GptTable {
  const { header } = gpt;
  return {
    diskId: header.diskGuid,
    layout: {
      headerUsed,
      primaryLba: Number(headerUsed === "primary" ? header.myLba : header.alternateLba),
      backupLba: Number(headerUsed === "primary" ? header.alternateLba : header.myLba),
      firstUsableLba: Number(header.firstUsableLba),
      lastUsableLba: Number(header.lastUsableLba),
      entryArrayLba: Number(header.entryArrayLba),
      entryCount: header.entryCount,
      entrySize: header.entrySize,
    },
    partitions: gpt.entries.map((entry) => gptPartition(entry, header, sectors, findings)),
  };
}

function gptPartition(entry: GptEntry, header: GptHeader, sectors: SectorReader, findings: string[]): Partition {
  const { index, firstLba, lastLba } = entry;
  const lastDiskLba = BigInt(sectors.sectorCount - 1);
  if (lastLba < firstLba) {
    findings.push(`partition ${index} ends at LBA ${lastLba}, before it starts at LBA ${firstLba}`);
  } else if (lastLba > lastDiskLba) {
    findings.push(
      `partition ${index} (LBA ${firstLba} to ${lastLba}) runs past the end of the disk (LBA ${lastDiskLba})`,
    );
  } else if (firstLba < header.firstUsableLba || lastLba > header.lastUsableLba) {
    findings.push(
      `partition ${index} (LBA ${firstLba} to ${lastLba}) lies outside the usable LBAs ${header.firstUsableLba} to ${header.lastUsableLba}`,
    );
  }
  const sectorCount = lastLba < firstLba ? 0n : lastLba - firstLba + 1n;
  const typeName = gptTypeName(entry.typeGuid);
  return {
    index,
    type: entry.typeGuid,
    ...(typeName === undefined ? {} : { typeName }),
    ...(entry.name === "" ? {} : { name: entry.name }),
    guid: entry.uniqueGuid,
    start: Number(firstLba) * sectors.sectorSize,
    size: Number(sectorCount) * sectors.sectorSize,
    attributes: `0x${entry.attributes.toString(16).padStart(16, "0")}`,
    bootable: (entry.attributes & LEGACY_BIOS_BOOTABLE) !== 0n,
  };
}
