// Raw disks for the partition table tests: a PartitionDisk over bytes in
// memory that records its reads, and builders for hand-made MBR, EBR and GPT
// sectors (the shapes sfdisk cannot be asked to make: loops, hostile counts).
import { guidToBytes } from "@vhdx/guid";
import type { PartitionDisk } from "../src/index.js";
import { crc32 } from "../src/partitions/crc32.js";

export interface RecordingDisk extends PartitionDisk {
  /** The length of every read, in order. */
  readonly reads: number[];
}

export function memoryDisk(bytes: Uint8Array, logicalSectorSize = 512): RecordingDisk {
  const reads: number[] = [];
  return {
    virtualSize: bytes.length,
    logicalSectorSize,
    reads,
    async read(offset, length) {
      if (offset < 0 || offset + length > bytes.length) throw new Error(`read past the disk: ${offset}+${length}`);
      reads.push(length);
      return bytes.slice(offset, offset + length);
    },
  };
}

export interface MbrEntrySpec {
  status?: number;
  type: number;
  firstLba: number;
  sectorCount: number;
}

/** Writes an MBR (or EBR) with up to four entries and the 0x55AA signature at `offset`. */
export function writeMbr(disk: Uint8Array, offset: number, entries: MbrEntrySpec[], diskSignature = 0): void {
  const view = new DataView(disk.buffer, disk.byteOffset + offset, 512);
  view.setUint32(440, diskSignature, true);
  entries.forEach((entry, slot) => {
    const at = 446 + slot * 16;
    view.setUint8(at, entry.status ?? 0);
    view.setUint8(at + 4, entry.type);
    view.setUint32(at + 8, entry.firstLba, true);
    view.setUint32(at + 12, entry.sectorCount, true);
  });
  view.setUint16(510, 0xaa55, true);
}

export interface GptEntrySpec {
  type: string;
  guid?: string;
  firstLba: number;
  lastLba: number;
  attributes?: bigint;
  name?: string;
}

export interface GptSpec {
  sectorSize: 512 | 4096;
  sectorCount: number;
  diskGuid?: string;
  entries: GptEntrySpec[];
  entryCount?: number;
}

/** A whole disk with a protective MBR, the primary GPT and its backup, as sgdisk lays them out. */
export function gptDisk(spec: GptSpec): Uint8Array {
  const { sectorSize: ss, sectorCount } = spec;
  const disk = new Uint8Array(ss * sectorCount);
  writeMbr(disk, 0, [{ type: 0xee, firstLba: 1, sectorCount: Math.min(sectorCount - 1, 0xffffffff) }]);
  const entryCount = spec.entryCount ?? 128;
  const array = new Uint8Array(entryCount * 128);
  spec.entries.forEach((entry, i) => writeGptEntry(array, i * 128, entry));
  const arraySectors = Math.ceil(array.length / ss);
  const lastLba = sectorCount - 1;
  const layout = {
    firstUsable: 2 + arraySectors,
    lastUsable: lastLba - 1 - arraySectors,
    entryCount,
    arrayCrc: crc32(array),
    diskGuid: spec.diskGuid ?? "11111111-2222-4333-8444-555555555555",
  };
  disk.set(array, 2 * ss);
  disk.set(array, (lastLba - arraySectors) * ss);
  writeGptHeader(disk, ss, { ...layout, myLba: 1, alternateLba: lastLba, arrayLba: 2 });
  writeGptHeader(disk, ss, { ...layout, myLba: lastLba, alternateLba: 1, arrayLba: lastLba - arraySectors });
  return disk;
}

function writeGptEntry(array: Uint8Array, offset: number, entry: GptEntrySpec): void {
  const view = new DataView(array.buffer, array.byteOffset + offset, 128);
  array.set(guidToBytes(entry.type), offset);
  array.set(guidToBytes(entry.guid ?? "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"), offset + 16);
  view.setBigUint64(32, BigInt(entry.firstLba), true);
  view.setBigUint64(40, BigInt(entry.lastLba), true);
  view.setBigUint64(48, entry.attributes ?? 0n, true);
  [...(entry.name ?? "")].forEach((char, i) => view.setUint16(56 + i * 2, char.charCodeAt(0), true));
}

interface HeaderFields {
  myLba: number;
  alternateLba: number;
  firstUsable: number;
  lastUsable: number;
  arrayLba: number;
  entryCount: number;
  arrayCrc: number;
  diskGuid: string;
}

function writeGptHeader(disk: Uint8Array, ss: number, f: HeaderFields): void {
  const offset = f.myLba * ss;
  const view = new DataView(disk.buffer, disk.byteOffset + offset, 92);
  disk.set(
    [..."EFI PART"].map((c) => c.charCodeAt(0)),
    offset,
  );
  view.setUint32(8, 0x00010000, true);
  view.setUint32(12, 92, true);
  view.setBigUint64(24, BigInt(f.myLba), true);
  view.setBigUint64(32, BigInt(f.alternateLba), true);
  view.setBigUint64(40, BigInt(f.firstUsable), true);
  view.setBigUint64(48, BigInt(f.lastUsable), true);
  disk.set(guidToBytes(f.diskGuid), offset + 56);
  view.setBigUint64(72, BigInt(f.arrayLba), true);
  view.setUint32(80, f.entryCount, true);
  view.setUint32(84, 128, true);
  view.setUint32(88, f.arrayCrc, true);
  fixGptHeaderCrc(disk, offset);
}

/** Recomputes the CRC-32 of the GPT header at `offset` after a test changed it. */
export function fixGptHeaderCrc(disk: Uint8Array, offset: number): void {
  const view = new DataView(disk.buffer, disk.byteOffset + offset, 92);
  const size = view.getUint32(12, true);
  view.setUint32(16, 0, true);
  view.setUint32(16, crc32(disk.subarray(offset, offset + size)), true);
}

/** A small seeded generator (xorshift32), so a failing hostile-input case can be replayed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 0x100000000;
  };
}
