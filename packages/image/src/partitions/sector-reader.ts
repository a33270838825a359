// Reads whole logical sectors of a PartitionDisk by LBA, refusing any that
// lie past the end of the disk, so that LBAs taken from the disk can be
// followed without trusting them. The first and last 64 KiB, where the MBR,
// both GPT headers and their entry arrays usually lie, are read once each:
// over HTTP a GPT then costs two requests instead of five.
import { VhdxError } from "@vhdx/structs";
import type { PartitionDisk } from "./partition.js";

const STRUCTURE = "partition table";
const WINDOW_BYTES = 64 * 1024;

interface Window {
  firstLba: number;
  bytes: Uint8Array;
}

export class SectorReader {
  readonly sectorSize: number;
  readonly sectorCount: number;
  private readonly windows: Window[] = [];

  constructor(private readonly disk: PartitionDisk) {
    const { virtualSize, logicalSectorSize } = disk;
    if (logicalSectorSize !== 512 && logicalSectorSize !== 4096) {
      throw new VhdxError("INVALID_ARGUMENT", `logical sector size is ${logicalSectorSize}, expected 512 or 4096`, {
        structure: STRUCTURE,
      });
    }
    if (!Number.isSafeInteger(virtualSize) || virtualSize < 0) {
      throw new VhdxError("INVALID_ARGUMENT", `virtual size is ${virtualSize}, expected a byte count`, {
        structure: STRUCTURE,
      });
    }
    this.sectorSize = logicalSectorSize;
    this.sectorCount = Math.floor(virtualSize / logicalSectorSize);
  }

  /** True when `count` sectors from `lba` lie inside the disk. */
  holds(lba: bigint | number, count: number): boolean {
    const first = BigInt(lba);
    return first >= 0n && first + BigInt(count) <= BigInt(this.sectorCount);
  }

  /** `count` sectors from `lba`, or null when they do not all lie inside the disk. Do not modify them. */
  async read(lba: bigint | number, count: number): Promise<Uint8Array | null> {
    if (!this.holds(lba, count)) return null;
    const first = Number(lba);
    const window = await this.windowHolding(first, count);
    if (window === undefined) return this.readFromDisk(first, count);
    const from = (first - window.firstLba) * this.sectorSize;
    return window.bytes.subarray(from, from + count * this.sectorSize);
  }

  /** The head or tail window when it holds the sectors, read on first use. */
  private async windowHolding(first: number, count: number): Promise<Window | undefined> {
    const windowSectors = Math.min(this.sectorCount, WINDOW_BYTES / this.sectorSize);
    for (const firstLba of [0, this.sectorCount - windowSectors]) {
      if (first < firstLba || first + count > firstLba + windowSectors) continue;
      let window = this.windows.find((w) => w.firstLba === firstLba);
      if (window === undefined) {
        window = { firstLba, bytes: await this.readFromDisk(firstLba, windowSectors) };
        this.windows.push(window);
      }
      return window;
    }
    return undefined;
  }

  private async readFromDisk(first: number, count: number): Promise<Uint8Array> {
    const offset = first * this.sectorSize;
    const length = count * this.sectorSize;
    const bytes = await this.disk.read(offset, length);
    if (!(bytes instanceof Uint8Array) || bytes.length !== length) {
      throw new VhdxError("TRUNCATED", `asked the disk for ${length} bytes, got ${bytes?.length ?? "none"}`, {
        structure: STRUCTURE,
        offset,
      });
    }
    return bytes;
  }
}
