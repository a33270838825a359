// What the NBD server serves: an export, and the one over a VhdxImage. All
// connections of a server share one export, hence one image: its writer
// orders every write, and its flush makes durable every write completed
// before it, whichever connection sent it. That is what NBD_FLAG_CAN_MULTI_CONN
// promises, so the server advertises it.
import { type VhdxImage, VhdxError } from "@vhdx/image";
import { EINVAL, EIO, ENOSPC, EPERM, STATE_HOLE, STATE_ZERO } from "./constants.js";

/** A run of base:allocation status: `flags` is STATE_HOLE | STATE_ZERO, or 0 for data. */
interface AllocationRun {
  length: number;
  flags: number;
}

export interface NbdExport {
  readonly name: string;
  readonly description: string;
  readonly size: number;
  readonly readOnly: boolean;
  /** The smallest write that needs no read-modify-write: the logical sector size. */
  readonly minimumBlockSize: number;
  readonly preferredBlockSize: number;
  readInto(buffer: Uint8Array, offset: number): Promise<void>;
  write(offset: number, data: Uint8Array): Promise<void>;
  /** `allocate` (NBD_CMD_FLAG_NO_HOLE): write zeros that keep their space, instead of freeing it. */
  writeZeroes(offset: number, length: number, allocate: boolean): Promise<void>;
  /** TRIM: what the range reads afterwards is up to the export. */
  trim(offset: number, length: number): Promise<void>;
  flush(): Promise<void>;
  /** Runs from `offset`, in order, covering at most `length` bytes and at most `maxRuns` runs (at least one). */
  allocation(offset: number, length: number, maxRuns: number): Promise<AllocationRun[]>;
}

const ZERO_CHUNK = 1 << 20;
let zeros: Uint8Array | null = null;

export interface ImageExportOptions {
  name?: string;
  description?: string;
}

/** The export of `image` (read-only when the image was opened read-only). */
export function imageExport(image: VhdxImage, options: ImageExportOptions = {}): NbdExport {
  const sector = image.logicalSectorSize;
  return {
    name: options.name ?? "",
    description: options.description ?? "",
    size: image.virtualSize,
    readOnly: image.readOnly,
    minimumBlockSize: sector,
    preferredBlockSize: Math.max(4096, sector),
    readInto: (buffer, offset) => image.readInto(buffer, offset),
    write: (offset, data) => image.write(offset, data),
    async writeZeroes(offset, length, allocate) {
      if (!allocate) return image.writeZeroes(offset, length);
      zeros ??= new Uint8Array(ZERO_CHUNK);
      for (let at = offset; at < offset + length; at += ZERO_CHUNK) {
        await image.write(at, zeros.subarray(0, Math.min(ZERO_CHUNK, offset + length - at)));
      }
    },
    async trim(offset, length) {
      await image.discard(offset, length, { partial: "keep" });
    },
    flush: () => image.flush(),
    async allocation(offset, length, maxRuns) {
      const runs: AllocationRun[] = [];
      for await (const extent of image.extents(offset, length)) {
        const flags = extent.kind === "data" ? 0 : STATE_HOLE | STATE_ZERO;
        const last = runs[runs.length - 1];
        if (last !== undefined && last.flags === flags) last.length += extent.length;
        else if (runs.length === maxRuns) break;
        else runs.push({ length: extent.length, flags });
      }
      return runs;
    },
  };
}

/** The NBD error value for a failed operation of the export. */
export function errorValue(error: unknown): number {
  if (VhdxError.isInstance(error)) {
    if (error.code === "READ_ONLY" || error.code === "LOCKED") return EPERM;
    if (error.code === "OUT_OF_RANGE") return EINVAL;
    return EIO;
  }
  const code = (error as { code?: unknown } | null)?.code;
  return code === "ENOSPC" || code === "EDQUOT" ? ENOSPC : EIO;
}
