// What the corpus is made of: images on disk, each with the bytes its virtual
// disk must read as, produced by an oracle (QEMU, libvhdi) or by the
// spec-driven generator — never by our own reader — and which oracles may be
// asked about it.
import type { OracleName } from "@vhdx-tools/oracles";

export type CorpusProfile = "short" | "full";

export type CorpusOrigin = "qemu" | "writer" | "generator";

/** Who produced an expected raw file. */
export type ReferenceOracle =
  /** `qemu-img convert -O raw` of the image (after QEMU replayed its log, for a dirty-log image). */
  | "qemu-img convert"
  /** python3-libvhdi's reads of the whole disk, for images QEMU cannot open. */
  | "pyvhdi"
  /** The model of tools/fixtures' spec-driven generator. */
  | "generator";

/** A raw file holding the whole virtual disk (sparse where it reads zeros). */
export interface ReferenceContents {
  oracle: ReferenceOracle;
  path: string;
}

/** The oracles the differential runners can ask about an image. */
export type DifferentialOracle = "qemu-img convert" | "pyvhdi" | "vhdiinfo" | "qemu-img check" | "7zz x" | "7zz t";

export interface CorpusImage {
  name: string;
  origin: CorpusOrigin;
  path: string;
  /** The differencing chain's parents, nearest first (empty otherwise). */
  parents: string[];
  virtualSize: number;
  blockSize: number;
  logicalSectorSize: 512 | 4096;
  diskType: "fixed" | "dynamic" | "differencing";
  /** What the image exercises, e.g. "block-size-32MiB", "past-4GiB-chunk", "dirty-log". */
  features: string[];
  /** The bytes our reader must return. */
  expected: ReferenceContents;
  /** Other oracles' views of the same disk, which must agree too (e.g. QEMU's read of a generated image). */
  alsoExpected: ReferenceContents[];
  /** For images our writer made: a raw file of what we wrote, which the oracles' reads must equal. */
  writerModel?: string;
  /**
   * Virtual ranges [offset, length] that hold data. Oracles that cannot stream
   * a whole large disk (pyvhdi) compare these; small disks are compared whole.
   */
  focus: Array<[offset: number, length: number]>;
  /** Oracles not to ask, each with the reason (a documented oracle bug or limit). */
  skip: Partial<Record<DifferentialOracle, string>>;
}

export interface BuildCorpusOptions {
  profile: CorpusProfile;
  onProgress?: (line: string) => void;
}

/** One recipe of the corpus: builds its image (and its parents) in `dir`. */
export interface CorpusRecipe {
  name: string;
  /** The oracles building it runs. */
  needs: OracleName[];
  build(dir: string): Promise<CorpusImage[]> | CorpusImage[];
}

const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;
/** One sector bitmap block covers 2^23 sectors: 4 GiB of a 512-byte-sector disk. */
export const CHUNK_512 = 2 ** 23 * 512;

/** Oracles libvhdi cannot be asked about for a disk of this shape (whole-image limits only). */
export function libvhdiLimits(
  diskType: CorpusImage["diskType"],
  virtualSize: number,
  sectorSize: number,
): Partial<Record<DifferentialOracle, string>> {
  const chunk = 2 ** 23 * sectorSize;
  return diskType === "fixed" && virtualSize > chunk ? { pyvhdi: ORACLE_LIMITS.libvhdiFixedPastFirstChunk } : {};
}

/** Oracles 7-Zip cannot be asked about for a disk of this size (both of its commands refuse the image). */
export function sevenZipLimits(virtualSize: number, sectorSize: number): Partial<Record<DifferentialOracle, string>> {
  return (virtualSize / sectorSize) % 2 === 1 ? sevenZipRefuses(ORACLE_LIMITS.sevenZipOddSectors) : {};
}

/** The same reason for both of 7-Zip's commands. */
export function sevenZipRefuses(reason: string): Partial<Record<DifferentialOracle, string>> {
  return { "7zz x": reason, "7zz t": reason };
}

export function blockSizeFeature(blockSize: number): string {
  return `block-size-${blockSize / MiB}MiB`;
}

/** Reasons, from /work/shared/VHDX-NOTES.md and checked here, why an oracle is not asked. */
export const ORACLE_LIMITS = {
  qemu4k: "QEMU 7.2 opens only 512-byte logical sectors (qemu-img: Operation not supported)",
  qemuDifferencing: "QEMU 7.2 refuses differencing (HasParent) images",
  libvhdiNoReplay:
    "libvhdi does not replay the log: it reads the BAT as it is on disk, so a block whose BAT update is only in the log reads as zeros",
  libvhdiZeroInDifferencing:
    "libvhdi reads ZERO blocks of a differencing image from the parent (MS-VHDX 2.5.1.1: a ZERO block MUST read as zeros); " +
    "it reads UNDEFINED, UNMAPPED and legacy UNMAPPED (5) blocks from the parent too, which the spec allows but the generator models as zeros",
  libvhdiFixedPastFirstChunk:
    "libvhdi 20210425 indexes a fixed disk's BAT without the sector bitmap entry that follows each chunk: past the first chunk it reads " +
    "the first block as zeros and every later block from the entry before its own (QEMU and the spec's chunk-ratio arithmetic agree with us)",
  libvhdiStaleBitmap:
    "libvhdi consults the sector bitmap for differencing blocks that are not PARTIALLY_PRESENT: a NOT_PRESENT block whose bits are " +
    "still set (our writer's discard of a block that was partially present leaves them; MS-VHDX 2.5.1.1 uses the bitmap only for " +
    "PARTIALLY_PRESENT) reads those sectors from file offset 0 instead of the parent",
  libvhdiMissingBitmap:
    "libvhdi reads a sector bitmap whose BAT entry is NOT_PRESENT from file offset 0 (the spec says such a chunk has no sector in this file)",
  sevenZipOddSectors:
    "7-Zip 26.02 refuses a disk whose size is an odd number of logical sectors (Cannot open the file as [VHDX] archive): " +
    "its metadata check tests the size's bit equal to the sector size instead of the bits below it",
  sevenZipLegacyUnmapped:
    "7-Zip refuses a BAT holding the legacy UNMAPPED value 5 (reserved in MS-VHDX 1.0, written by writers of the v0.95 draft), " +
    "and so every child of such an image",
  sevenZipNoReplay:
    '7-Zip does not replay the log: it reports "non-empty LOG was not replayed" and reads the BAT as it is on disk',
} as const;
