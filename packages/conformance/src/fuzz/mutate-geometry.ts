// A coordinated mutation no field rewrite reaches alone: a huge virtual disk
// (up to the format's 64 TiB) with a block size and a BAT region big enough
// for it, appended to the file, so the image still opens and every reader
// meets a disk far larger than the file.
import {
  BAT_REGION_GUID,
  FILE_PARAMETERS_GUID,
  LOGICAL_SECTOR_SIZE_GUID,
  VIRTUAL_DISK_SIZE_GUID,
  encodeVirtualDiskId,
} from "@vhdx/structs";
import { fixChecksum, hex, readField, writeField } from "./field-bytes.js";
import type { Prng } from "../random.js";
import type { Structure, StructureMap } from "./structure-map.js";

const MiB = 1024 ** 2;
const TiB = 1024 ** 4;
/** The biggest BAT appended, so a mutant stays a few MiB. */
const MAX_BAT_BYTES = 16 * MiB;

/** [block size, virtual size in logical sectors or bytes] pairs whose BAT fits in MAX_BAT_BYTES. */
const SHAPES: ReadonlyArray<readonly [number, (sector: number) => number]> = [
  [256 * MiB, () => 64 * TiB],
  [256 * MiB, (sector) => 64 * TiB - sector],
  [256 * MiB, (sector) => 64 * TiB + sector],
  [32 * MiB, (sector) => 4 * TiB + sector],
  [MiB, (sector) => 256 * 1024 * MiB + 3 * sector],
  [128 * MiB, () => 2 ** 45],
];

export function hugeGeometry(
  bytes: Uint8Array,
  map: StructureMap,
  rng: Prng,
): { bytes: Uint8Array; description: string } | null {
  const item = (guid: string) => map.structures.find((s) => s.name === `metadata item ${guid}`);
  const parameters = item(FILE_PARAMETERS_GUID);
  const size = item(VIRTUAL_DISK_SIZE_GUID);
  const sectorItem = item(LOGICAL_SECTOR_SIZE_GUID);
  if (!parameters || !size || !sectorItem || !map.bat) return null;
  const sector = Number(readField(bytes, sectorItem.fields[0]!)) === 4096 ? 4096 : 512;
  const hasParent = (Number(readField(bytes, parameters.fields[1]!)) & 2) !== 0;
  const [blockSize, sizeOf] = rng.pick(SHAPES);
  const virtualSize = sizeOf(sector);
  const batBytes = batEntries(virtualSize, blockSize, sector, hasParent) * 8;
  if (batBytes > MAX_BAT_BYTES) return null;
  const regionLength = Math.ceil(batBytes / MiB) * MiB;
  const batOffset = Math.ceil(bytes.length / MiB) * MiB;
  const out = new Uint8Array(batOffset + regionLength);
  out.set(bytes);
  // Mostly an empty BAT (the disk then opens and reads as zeros); sometimes the old entries, now describing bigger blocks.
  const keepEntries = rng.chance(0.3);
  if (keepEntries)
    out.set(bytes.subarray(map.bat.offset, map.bat.offset + Math.min(map.bat.entries * 8, regionLength)), batOffset);
  writeField(out, parameters.fields[0]!, BigInt(blockSize));
  writeField(out, size.fields[0]!, BigInt(virtualSize));
  for (const table of map.structures.filter((s) => s.kind === "region table"))
    moveBatRegion(out, table, batOffset, regionLength);
  return {
    bytes: out,
    description: `huge disk: ${virtualSize} bytes in ${blockSize / MiB} MiB blocks, its ${batBytes}-byte BAT ${keepEntries ? "copied" : "new and empty"} at ${hex(batOffset)} (region length ${regionLength})`,
  };
}

function batEntries(virtualSize: number, blockSize: number, sector: number, hasParent: boolean): number {
  const chunkRatio = (2 ** 23 * sector) / blockSize;
  const payload = Math.ceil(virtualSize / blockSize);
  return hasParent
    ? Math.ceil(payload / chunkRatio) * (chunkRatio + 1)
    : payload + Math.floor((payload - 1) / chunkRatio);
}

function moveBatRegion(bytes: Uint8Array, table: Structure, offset: number, length: number): void {
  const batGuid = encodeVirtualDiskId(BAT_REGION_GUID);
  for (const field of table.fields.filter((f) => f.kind === "guid")) {
    if (Buffer.compare(bytes.subarray(field.offset, field.offset + 16), batGuid) !== 0) continue;
    const prefix = field.name.replace(/guid$/, "");
    writeField(bytes, table.fields.find((f) => f.name === `${prefix}fileOffset`)!, BigInt(offset));
    writeField(bytes, table.fields.find((f) => f.name === `${prefix}length`)!, BigInt(length));
  }
  fixChecksum(bytes, table);
}
