// Where an oracle and we disagree on purpose: the oracle is wrong, or cannot
// make or read the image. Each is checked here, not assumed (see
// VHDX-NOTES.md, "Where the oracles are wrong"), and the runners skip or work
// around exactly these cases and no others.

export interface KnownDifference {
  oracle: "QEMU" | "libvhdi" | "7-Zip";
  what: string;
  why: string;
  /** What the suite does instead. */
  instead: string;
}

export const KNOWN_DIFFERENCES: readonly KnownDifference[] = [
  {
    oracle: "QEMU",
    what: "refuses differencing images (HasParent files)",
    why: "QEMU 7.2's VHDX driver has no backing-file support for VHDX",
    instead: "chains are compared with libvhdi (set_parent) and the spec-driven generator's model",
  },
  {
    oracle: "QEMU",
    what: "opens only 512-byte logical sectors",
    why: "QEMU 7.2 refuses 4096-byte logical sector images",
    instead: "4 KiB-sector images are compared with libvhdi and the generator's model",
  },
  {
    oracle: "QEMU",
    what: "replays a wrapped log wrongly",
    why: "its log search ignores an entry's Tail, so a sequence that wraps the ring is cut short",
    instead: "wrapped logs are checked against the spec's search in @vhdx/log's tests, not against QEMU",
  },
  {
    oracle: "QEMU",
    what: "refuses to replay our log after `compact` has cut the file shorter",
    why: "its log search ignores Tail, so it also takes the session's older entries, whose FlushedFileOffset is past the new end of the file",
    instead: "compact's power cuts are checked with qemu-img check after our replay, not by QEMU's own replay",
  },
  {
    oracle: "QEMU",
    what: "cannot leave a dirty log behind",
    why: "it clears the header's LogGuid after every write",
    instead: "dirty logs are made with blkdebug failing the BAT write after the log entry landed",
  },
  {
    oracle: "QEMU",
    what: "marks new blocks ZERO even in fixed images (block_state_zero=on, its default)",
    why: "a QEMU choice the spec allows; with block_state_zero=off its fixed files end inside the last block",
    instead: "nothing: we read both as QEMU does",
  },
  {
    oracle: "QEMU",
    what: "`qemu-img map` reports a VHDX as all data",
    why: "its VHDX driver has no block status",
    instead: "`vhdx map` is checked against the BAT and the generator, not against qemu-img map",
  },
  {
    oracle: "QEMU",
    what: "refuses its own preallocated fixed file past 4 GiB when the last block is partial (block_state_zero=off)",
    why: '"BAT entry ... points after end of file": its file ends inside the last block, which its own check then rejects',
    instead: "the full profile gives such fixed images a whole number of blocks",
  },
  {
    oracle: "QEMU",
    what: "`qemu-io write -z` allocates and writes zeros; `discard` does nothing",
    why: "QEMU 7.2's VHDX driver has no zero-write or discard support",
    instead:
      "those workloads still run (QEMU is their own expected contents); ZERO blocks and discards are checked through our writer's images",
  },
  {
    oracle: "libvhdi",
    what: "reads ZERO (and UNDEFINED, UNMAPPED, legacy 5) blocks of a differencing image from the parent",
    why: "the spec says a ZERO block reads as zeros whatever the parent holds; for the other states it allows either",
    instead: "chains holding ZERO blocks are compared with the generator's model only",
  },
  {
    oracle: "libvhdi",
    what: "reads a sector bitmap whose BAT entry is NOT_PRESENT from file offset 0",
    why: "it does not check the bitmap entry's state before using its offset",
    instead: "children without a sector bitmap block are compared with the generator's model only",
  },
  {
    oracle: "libvhdi",
    what: "uses the sector bitmap of a NOT_PRESENT block in a differencing image",
    why: "the spec reads the bitmap only for PARTIALLY_PRESENT blocks; bits left set after a discard make libvhdi read file offset 0",
    instead: "the writer workloads whose expected contents come from libvhdi do not discard partially present blocks",
  },
  {
    oracle: "libvhdi",
    what: "misplaces data past the first 4 GiB chunk of a fixed image",
    why: "it does not skip the sector bitmap entries interleaved in a fixed disk's BAT",
    instead: "fixed images larger than one chunk are compared with QEMU only",
  },
  {
    oracle: "libvhdi",
    what: "does not replay the log",
    why: "it reads the file as it is, so a dirty log's writes are missing",
    instead: "dirty-log images are compared with QEMU after its own replay",
  },
  {
    oracle: "libvhdi",
    what: 'vhdiinfo\'s "Identifier" is the DataWriteGuid, and pyvhdi does not follow parent locators',
    why: "libvhdi's naming and API, not a bug",
    instead: "we compare Identifier with dataWriteGuid and hand pyvhdi the parents with set_parent",
  },
  {
    oracle: "7-Zip",
    what: "refuses a disk whose size is an odd number of logical sectors (Cannot open the file as [VHDX] archive)",
    why: "7-Zip 26.02's metadata check tests VirtualDiskSize & LogicalSectorSize, the bit equal to the sector size, where a multiple of the sector size needs the bits below it",
    instead:
      "such images are compared with the other oracles only; the images made for 7-Zip (deep chains, every block state) have an even number of sectors and a partial last block",
  },
  {
    oracle: "7-Zip",
    what: "refuses a BAT holding the legacy UNMAPPED value 5, and every child of such an image",
    why: "it knows only the block states of MS-VHDX 1.0, where 5 is reserved (the v0.95 draft used it for UNMAPPED)",
    instead:
      "the block-state images are also built without value 5 (gen-block-states-4k-no-legacy, gen-diff-states-no-legacy) for 7-Zip",
  },
  {
    oracle: "7-Zip",
    what: "does not replay the log",
    why: 'it reports "non-empty LOG was not replayed" and reads the BAT as it is on disk',
    instead: "dirty-log images are compared with QEMU after its replay; the copy our replay wrote is read by 7-Zip",
  },
  {
    oracle: "7-Zip",
    what: "on Linux, finds no parent outside the child's folder",
    why: 'it opens a locator path only inside the folder of the image it was given (no "..", no absolute path), and on Linux "\\" is part of a file name, so relative_path ..\\base\\b.vhdx is one name',
    instead:
      "the runner shows 7-Zip each parent in a scratch folder through a link named as the locator names it; 7-Zip still opens it by that name and checks the linkage (a chain in one folder it follows by itself)",
  },
];
