// Names for the partition types met on the disks people keep in VHDX files
// (Windows, Linux, the EFI and BIOS boot partitions, a few others). A type
// without a name here is shown by its GUID or byte alone.

export const GPT_TYPE_NAMES: Readonly<Record<string, string>> = {
  "c12a7328-f81f-11d2-ba4b-00a0c93ec93b": "EFI System",
  "024dee41-33e7-11d3-9d69-0008c781f39f": "MBR partition scheme",
  "21686148-6449-6e6f-744e-656564454649": "BIOS boot",
  "e3c9e316-0b5c-4db8-817d-f92df00215ae": "Microsoft reserved",
  "ebd0a0a2-b9e5-4433-87c0-68b6b72699c7": "Microsoft basic data",
  "de94bba4-06d1-4d40-a16a-bfd50179d6ac": "Windows recovery",
  "5808c8aa-7e8f-42e0-85d2-e1e90434cfb3": "Microsoft LDM metadata",
  "af9b60a0-1431-4f62-bc68-3311714a69ad": "Microsoft LDM data",
  "e75caf8f-f680-4cee-afa3-b001e56efc2d": "Microsoft Storage Spaces",
  "0fc63daf-8483-4772-8e79-3d69d8477de4": "Linux filesystem",
  "0657fd6d-a4ab-43c4-84e5-0933c84b4f4f": "Linux swap",
  "e6d6d379-f507-44c2-a23c-238f2a3df928": "Linux LVM",
  "a19d880f-05fc-4d3b-a006-743f0f84911e": "Linux RAID",
  "44479540-f297-41b2-9af7-d131d5f0458a": "Linux root (x86)",
  "4f68bce3-e8cd-4db1-96e7-fbcaf984b709": "Linux root (x86-64)",
  "b921b045-1df0-41c3-af44-4c6f280d3fae": "Linux root (ARM-64)",
  "8484680c-9521-48c6-9c11-b0720656f69e": "Linux /usr (x86-64)",
  "933ac7e1-2eb4-4f13-b844-0e14e2aef915": "Linux home",
  "3b8f8425-20e0-4f3b-907f-1a25a76f98e8": "Linux server data",
  "4d21b016-b534-45c2-a9fb-5c16e091fd2d": "Linux variable data",
  "bc13c2ff-59e6-4262-a352-b275fd6f7172": "Linux extended boot",
  "8da63339-0007-60c0-c436-083ac8230908": "Linux reserved",
  "48465300-0000-11aa-aa11-00306543ecac": "Apple HFS+",
  "7c3457ef-0000-11aa-aa11-00306543ecac": "Apple APFS",
  "516e7cb4-6ecf-11d6-8ff8-00022d09712b": "FreeBSD data",
  "516e7cb5-6ecf-11d6-8ff8-00022d09712b": "FreeBSD swap",
  "516e7cb6-6ecf-11d6-8ff8-00022d09712b": "FreeBSD UFS",
  "516e7cba-6ecf-11d6-8ff8-00022d09712b": "FreeBSD ZFS",
  "6a898cc3-1dd2-11b2-99a6-080020736631": "ZFS (Solaris /usr, Apple)",
};

export const MBR_TYPE_NAMES: ReadonlyMap<number, string> = new Map([
  [0x01, "FAT12"],
  [0x04, "FAT16 (under 32 MiB)"],
  [0x05, "Extended"],
  [0x06, "FAT16"],
  [0x07, "NTFS / exFAT / HPFS"],
  [0x0b, "FAT32"],
  [0x0c, "FAT32 (LBA)"],
  [0x0e, "FAT16 (LBA)"],
  [0x0f, "Extended (LBA)"],
  [0x11, "Hidden FAT12"],
  [0x12, "Diagnostics / recovery"],
  [0x17, "Hidden NTFS / exFAT"],
  [0x1b, "Hidden FAT32"],
  [0x1c, "Hidden FAT32 (LBA)"],
  [0x27, "Windows recovery (hidden NTFS)"],
  [0x42, "Windows dynamic disk (LDM)"],
  [0x82, "Linux swap"],
  [0x83, "Linux"],
  [0x85, "Linux extended"],
  [0x8e, "Linux LVM"],
  [0xa5, "FreeBSD"],
  [0xa6, "OpenBSD"],
  [0xa9, "NetBSD"],
  [0xaf, "Apple HFS / HFS+"],
  [0xee, "GPT protective"],
  [0xef, "EFI System (FAT)"],
  [0xfd, "Linux RAID autodetect"],
]);

/** A name for a GPT partition type GUID (lower case), or undefined. */
export function gptTypeName(typeGuid: string): string | undefined {
  return GPT_TYPE_NAMES[typeGuid];
}

/** A name for an MBR partition type byte, or undefined. */
export function mbrTypeName(type: number): string | undefined {
  return MBR_TYPE_NAMES.get(type);
}
