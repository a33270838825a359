// What a file holds, by its magic numbers: a VHDX, or one of the disk image
// formats people take for raw by mistake. Reading a qcow2 or a VHD as raw
// copies its container bytes as if they were the disk, so the CLI probes every
// raw input and the library names the format when a file is not VHDX.
//
// | format    | where                 | magic                                           |
// |-----------|-----------------------|-------------------------------------------------|
// | VHDX      | 0                     | "vhdxfile"; damaged: "head" at 64 or 128 KiB, "regi" at 192 or 256 KiB |
// | qcow      | 0                     | "QFI\xfb", version (u32 BE) 1; 2 and 3 are qcow2 |
// | QED       | 0                     | "QED\0"                                         |
// | VMDK      | 0                     | "KDMV" (sparse extent), "COWD" (ESX), or descriptor text "# Disk DescriptorFile" |
// | VDI       | 0x40                  | 0xbeda107f (u32 LE)                             |
// | Parallels | 0                     | "WithoutFreeSpace" or "WithouFreSpacExt"        |
// | VHD       | end - 512 (or - 511), or 0 (the dynamic disk's copy) | "conectix"       |
import {
  HEADER_1_OFFSET,
  HEADER_2_OFFSET,
  REGION_TABLE_1_OFFSET,
  REGION_TABLE_2_OFFSET,
  VhdxError,
} from "@vhdx/structs";
import type { RandomAccessSource } from "../sources/source.js";

export type ProbedFormat =
  | "vhdx"
  | "damaged-vhdx"
  | "qcow"
  | "qcow2"
  | "qed"
  | "vmdk"
  | "vdi"
  | "parallels"
  | "vhd"
  | "unknown";

/** Formats that are disk images but not VHDX, as a person names them. */
export const FORMAT_NAMES: Readonly<Record<ProbedFormat, string>> = {
  vhdx: "VHDX",
  "damaged-vhdx": "VHDX with a damaged file identifier",
  qcow: "qcow (version 1)",
  qcow2: "qcow2",
  qed: "QED",
  vmdk: "VMDK",
  vdi: "VDI (VirtualBox)",
  parallels: "Parallels",
  vhd: "VHD",
  unknown: "not a known disk image format",
};

const HEAD_LENGTH = 512;
const VHD_FOOTER_COOKIE = "conectix";

/** What `source` holds, from its first 512 bytes, its last 512 and the VHDX header slots. */
export async function probeFormat(source: RandomAccessSource): Promise<ProbedFormat> {
  const size = await source.size();
  const head = await readAt(source, 0, Math.min(HEAD_LENGTH, size));
  if (ascii(head, 0, 8) === "vhdxfile") return "vhdx";
  const byMagic = formatAtStart(head);
  if (byMagic !== null) return byMagic;
  if (await hasVhdxStructures(source, size)) return "damaged-vhdx";
  if (await hasVhdFooter(source, size)) return "vhd";
  return "unknown";
}

/**
 * The error for a file that does not start with "vhdxfile": NOT_VHDX, or
 * UNSUPPORTED_FORMAT naming the format found, or null when VHDX structures
 * are there and only the file identifier is damaged (the caller's own
 * validation then reports BAD_SIGNATURE).
 */
export function notVhdxError(format: ProbedFormat, name: string): VhdxError | null {
  if (format === "vhdx" || format === "damaged-vhdx") return null;
  if (format === "unknown") {
    return new VhdxError(
      "NOT_VHDX",
      `${name} is not a VHDX image: it does not start with "vhdxfile" and holds no VHDX header`,
      {
        structure: "file identifier",
        offset: 0,
      },
    );
  }
  return new VhdxError(
    "UNSUPPORTED_FORMAT",
    `${name} is a ${FORMAT_NAMES[format]} image, not VHDX; convert it first (qemu-img convert -O vhdx ${name} out.vhdx)`,
    { structure: "file identifier", offset: 0 },
  );
}

function formatAtStart(head: Uint8Array): ProbedFormat | null {
  const magic4 = ascii(head, 0, 4);
  if (magic4 === "QFI\xfb" && head.length >= 8) return readU32BE(head, 4) === 1 ? "qcow" : "qcow2";
  if (magic4 === "QED\0") return "qed";
  if (magic4 === "KDMV" || magic4 === "COWD") return "vmdk";
  if (ascii(head, 0, 21) === "# Disk DescriptorFile") return "vmdk";
  if (head.length >= 0x44 && readU32LE(head, 0x40) === 0xbeda107f) return "vdi";
  const magic16 = ascii(head, 0, 16);
  if (magic16 === "WithoutFreeSpace" || magic16 === "WithouFreSpacExt") return "parallels";
  if (ascii(head, 0, 8) === VHD_FOOTER_COOKIE) return "vhd";
  return null;
}

/** A header ("head") or region table ("regi") signature where VHDX keeps them. */
async function hasVhdxStructures(source: RandomAccessSource, size: number): Promise<boolean> {
  const places: Array<[number, string]> = [
    [HEADER_1_OFFSET, "head"],
    [HEADER_2_OFFSET, "head"],
    [REGION_TABLE_1_OFFSET, "regi"],
    [REGION_TABLE_2_OFFSET, "regi"],
  ];
  for (const [offset, signature] of places) {
    if (offset + 4 <= size && ascii(await readAt(source, offset, 4), 0, 4) === signature) return true;
  }
  return false;
}

/** The VHD footer: the last 512 bytes (511 for disks made by old Virtual PC). */
async function hasVhdFooter(source: RandomAccessSource, size: number): Promise<boolean> {
  for (const length of [512, 511]) {
    if (size >= length && ascii(await readAt(source, size - length, 8), 0, 8) === VHD_FOOTER_COOKIE) return true;
  }
  return false;
}

async function readAt(source: RandomAccessSource, offset: number, length: number): Promise<Uint8Array> {
  if (length === 0) return new Uint8Array(0);
  const bytes = new Uint8Array(length);
  const count = await source.read(bytes, offset);
  return bytes.subarray(0, count);
}

function ascii(bytes: Uint8Array, offset: number, length: number): string {
  if (offset + length > bytes.length) return "";
  return String.fromCharCode(...bytes.subarray(offset, offset + length));
}

function readU32LE(bytes: Uint8Array, offset: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(offset, true);
}

function readU32BE(bytes: Uint8Array, offset: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(offset, false);
}
