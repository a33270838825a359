// A virtual disk to read, whatever holds it: a VHDX image or a raw file, so
// convert, compare, map, cat and read treat both alike. Without -f the file's
// magic numbers decide: "vhdxfile" is a VHDX (and one that does not open is an
// error, never raw); qcow2, VHD, VMDK, VDI, QED and Parallels images are
// refused, since their container bytes are not the disk; anything else is raw.
import { FORMAT_NAMES, type ProbedFormat, type VhdxImage, VhdxError, probeFormat } from "@vhdx/image";
import { FileSource, type FileStretch, type OpenVhdxOptions, openVhdx } from "@vhdx/image/node";
import { resolve } from "node:path";
import type { ImageAccess } from "./command.js";
import { type CliIO, warn } from "./io.js";

export type DiskFormat = "vhdx" | "raw";

export interface Disk {
  path: string;
  format: DiskFormat;
  size: number;
  /** The opened image, for a VHDX. */
  image: VhdxImage | null;
  readInto(buffer: Uint8Array, offset: number): Promise<void>;
  /** A raw disk's stretches that may hold data; its file's holes, between them, read as zeros. */
  dataStretches?(offset: number, length: number): Iterable<FileStretch>;
  close(): Promise<void>;
}

const READ_ONLY: ImageAccess = { forceShare: false, confineParents: false };

/** Opens `path` read-only as the format given, or the one its magic numbers say. */
export async function openDisk(
  path: string,
  io: CliIO,
  format?: DiskFormat,
  access: ImageAccess = READ_ONLY,
): Promise<Disk> {
  const full = resolve(io.cwd, path);
  const kind = format ?? (await detectFormat(full));
  if (kind === "vhdx") {
    const image = await openImageFile(full, io, access, access.salvage ? { salvage: true } : {});
    return {
      path: full,
      format: kind,
      size: image.virtualSize,
      image,
      readInto: (buffer, offset) => image.readInto(buffer, offset),
      close: () => image.close(),
    };
  }
  const source = await openShared(io, full, access, (forceShare) => FileSource.open(full, { forceShare }));
  const size = await source.size();
  return {
    path: full,
    format: kind,
    size,
    image: null,
    async readInto(buffer, offset) {
      const count = await source.read(buffer, offset);
      if (count < buffer.length) buffer.fill(0, count);
    },
    dataStretches: (offset, length) => source.dataStretches(offset, Math.max(0, Math.min(length, size - offset))),
    close: () => source.close(),
  };
}

/**
 * Opens the VHDX at `path` (already resolved) with the command's access: read-only
 * unless `readOnly: false`, parents followed anywhere unless --confine-parents,
 * and -U honoured for read-only opens.
 */
export function openImageFile(
  path: string,
  io: CliIO,
  access: ImageAccess,
  options: Omit<OpenVhdxOptions, "allowParentOutsideTree" | "forceShare"> = {},
): Promise<VhdxImage> {
  const allowParentOutsideTree = !access.confineParents;
  if (options.readOnly === false) return openVhdx(path, { ...options, allowParentOutsideTree });
  return openShared(io, path, access, (forceShare) =>
    openVhdx(path, { ...options, allowParentOutsideTree, forceShare }),
  );
}

/**
 * Opens with the usual shared lock first; only when that is refused (LOCKED)
 * and -U was given, opens again without it and warns that the reads may be
 * inconsistent.
 */
async function openShared<T>(
  io: CliIO,
  path: string,
  access: ImageAccess,
  open: (forceShare: boolean) => Promise<T>,
): Promise<T> {
  try {
    return await open(false);
  } catch (error) {
    if (!access.forceShare || !VhdxError.isInstance(error) || error.code !== "LOCKED") throw error;
    warn(io, `-U: ${path} is open for writing by another program; what is read may be inconsistent`);
    return open(true);
  }
}

/**
 * Whether a read-only open of `path` must force-share: false when the usual
 * shared lock is granted; true (with the warning) when it is refused and -U
 * was given; the LOCKED error otherwise. For code that opens the file itself.
 */
export async function needsForceShare(path: string, io: CliIO, access: ImageAccess): Promise<boolean> {
  let forced = false;
  const source = await openShared(io, path, access, (forceShare) => {
    forced = forceShare;
    return FileSource.open(path, { forceShare });
  });
  await source.close();
  return forced;
}

/** vhdx or raw, from the file's first bytes; other image formats are refused (UNSUPPORTED_FORMAT). */
async function detectFormat(path: string): Promise<DiskFormat> {
  const format = await probeFile(path);
  if (format === "vhdx" || format === "damaged-vhdx") return "vhdx";
  if (format === "unknown") return "raw";
  throw new VhdxError(
    "UNSUPPORTED_FORMAT",
    `${path} is a ${FORMAT_NAMES[format]} image, which vhdx does not read: convert it with qemu-img ` +
      `(qemu-img convert -O vhdx ${path} out.vhdx), or give -f raw to take its bytes as a raw disk on purpose`,
    { structure: "file identifier", offset: 0 },
  );
}

/** The probe reads a few bytes and closes: it never waits for, nor blocks, a writer. */
async function probeFile(path: string): Promise<ProbedFormat> {
  const source = await FileSource.open(path, { forceShare: true });
  try {
    return await probeFormat(source);
  } finally {
    await source.close();
  }
}

export function parseFormat(text: string | undefined, option: string): DiskFormat | undefined {
  if (text === undefined) return undefined;
  if (text === "vhdx" || text === "raw") return text;
  throw new VhdxError("INVALID_ARGUMENT", `${option} takes vhdx or raw, not ${JSON.stringify(text)}`);
}
