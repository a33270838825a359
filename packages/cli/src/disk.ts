// A virtual disk to read, whatever holds it: a VHDX image (found by its
// signature, "vhdxfile") or a raw file (anything else), so convert, compare
// and cat treat both alike.
import { type VhdxImage, VhdxError } from "@vhdx/image";
import { FileSource, openVhdx } from "@vhdx/image/node";
import { resolve } from "node:path";

export type DiskFormat = "vhdx" | "raw";

export interface Disk {
  path: string;
  format: DiskFormat;
  size: number;
  /** The opened image, for a VHDX. */
  image: VhdxImage | null;
  readInto(buffer: Uint8Array, offset: number): Promise<void>;
  close(): Promise<void>;
}

const SIGNATURE = "vhdxfile";

/** Opens `path` read-only as the format given, or the one its first bytes say. */
export async function openDisk(path: string, cwd: string, format?: DiskFormat): Promise<Disk> {
  const full = resolve(cwd, path);
  const kind = format ?? (await detectFormat(full));
  if (kind === "vhdx") {
    const image = await openVhdx(full);
    return {
      path: full,
      format: kind,
      size: image.virtualSize,
      image,
      readInto: (buffer, offset) => image.readInto(buffer, offset),
      close: () => image.close(),
    };
  }
  const source = await FileSource.open(full);
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
    close: () => source.close(),
  };
}

export async function detectFormat(path: string): Promise<DiskFormat> {
  const source = await FileSource.open(path);
  try {
    const head = new Uint8Array(SIGNATURE.length);
    const count = await source.read(head, 0);
    return count === head.length && String.fromCharCode(...head) === SIGNATURE ? "vhdx" : "raw";
  } finally {
    await source.close();
  }
}

export function parseFormat(text: string | undefined, option: string): DiskFormat | undefined {
  if (text === undefined) return undefined;
  if (text === "vhdx" || text === "raw") return text;
  throw new VhdxError("INVALID_ARGUMENT", `${option} takes vhdx or raw, not ${JSON.stringify(text)}`);
}
