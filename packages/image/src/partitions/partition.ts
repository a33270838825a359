// What readPartitionTable returns, and the little it needs of a disk.

/** A disk to read a partition table from: a VhdxImage, or anything with these three members. */
export interface PartitionDisk {
  readonly virtualSize: number;
  /** 512 or 4096: the size of an LBA. */
  readonly logicalSectorSize: number;
  /** `length` bytes of the disk at `offset` (never asked for bytes past virtualSize). */
  read(offset: number, length: number): Promise<Uint8Array>;
}

export type PartitionScheme = "gpt" | "mbr" | "none";

export interface Partition {
  /** The number Linux gives it: the GPT entry's place (from 1); MBR slots 1-4, logical partitions from 5. */
  index: number;
  /** GPT: the type GUID, lower case. MBR: the type byte as `0x07`. */
  type: string;
  /** A name for common types ("EFI System", "Linux filesystem", "NTFS / exFAT / HPFS"...). */
  typeName?: string;
  /** GPT: the partition's name; absent when empty. */
  name?: string;
  /** GPT: the partition's unique GUID. */
  guid?: string;
  /** Offset on the disk, in bytes. */
  start: number;
  /** Length in bytes. */
  size: number;
  /**
   * GPT: the 64 attribute bits as 16 hex digits, `0x8000000000000001` (bit 0
   * required, 2 legacy BIOS bootable, 60-63 for Microsoft basic data); a
   * string so the table goes through JSON.
   */
  attributes?: string;
  /** MBR: status 0x80. GPT: attribute bit 2 (legacy BIOS bootable). */
  bootable: boolean;
  /** MBR only. An extended partition holds the logical ones, which are listed after it. */
  kind?: "primary" | "extended" | "logical";
}

/** Where the GPT that was used lies, in LBAs of the disk's logical sector size. */
export interface GptLayout {
  /** The header whose partitions are shown: the primary, or the backup when the primary is damaged. */
  headerUsed: "primary" | "backup";
  primaryLba: number;
  /** Where the header used says the other copy is. */
  backupLba: number;
  firstUsableLba: number;
  lastUsableLba: number;
  entryArrayLba: number;
  entryCount: number;
  entrySize: number;
}

export interface PartitionTable {
  scheme: PartitionScheme;
  /** The logical sector size the LBAs were read in. */
  sectorSize: number;
  /** GPT: the disk GUID. MBR: the 32-bit disk signature as `0x1234abcd`. */
  diskId?: string;
  /** In the order of the table: GPT entries, or the MBR's primary entries and then the logical partitions. */
  partitions: Partition[];
  gpt?: GptLayout;
  /** What is wrong or unusual, one sentence each ("partition 3 runs past the end of the disk"). */
  findings: string[];
}
