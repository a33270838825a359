// Changing what Set-VHD changes besides the parent: a new Virtual Disk ID
// (-ResetDiskIdentifier; MS-VHDX 2.6.2.4) and the physical sector size
// reported to the guest (-PhysicalSectorSizeBytes; 2.6.2.5). Both are system
// items rewritten through the log (metadata-region.ts); neither changes a
// byte of the virtual disk, so DataWriteGuid and the children's linkage stay.
// The children of a disk whose ID is reset keep the old ID (the forking rule
// of 2.6.2.4 holds at creation only); nothing reads it to find a parent.
import { randomGuid } from "@vhdx/guid";
import {
  PHYSICAL_SECTOR_SIZE_GUID,
  VIRTUAL_DISK_ID_GUID,
  VhdxError,
  encodePhysicalSectorSize,
  encodeVirtualDiskId,
  findMetadataEntry,
} from "@vhdx/structs";
import type { VhdxImage } from "../image.js";
import { checkOptionKeys } from "../internal/options.js";
import {
  type MetadataItemValue,
  editMetadataRegion,
  readMetadataRegion,
  serialMetadataEdit,
} from "./metadata-region.js";

export interface DiskPropertiesOptions {
  /** Give the disk a new random Virtual Disk ID. */
  resetDiskId?: boolean;
  /** The new physical sector size: 512 or 4096, at least the logical sector size. */
  physicalSectorSize?: 512 | 4096;
}

export interface DiskPropertiesResult {
  virtualDiskId: { old: string; new: string };
  physicalSectorSize: { old: number; new: number };
}

/** Applies `options` to `image` (opened read-write) through the log, then closes it (its in-memory view is stale). */
export async function setDiskProperties(
  image: VhdxImage,
  options: DiskPropertiesOptions,
): Promise<DiskPropertiesResult> {
  try {
    checkOptionKeys("setDiskProperties", options, ["resetDiskId", "physicalSectorSize"]);
    if (image.readOnly) throw new VhdxError("READ_ONLY", `cannot change ${image.source.name}: it is open read-only`);
    const { resetDiskId = false, physicalSectorSize = image.physicalSectorSize } = options;
    if (typeof resetDiskId !== "boolean") throw new TypeError("setDiskProperties: resetDiskId must be a boolean");
    checkSectorSize(physicalSectorSize, image.logicalSectorSize);
    const result: DiskPropertiesResult = {
      virtualDiskId: { old: image.virtualDiskId, new: resetDiskId ? randomGuid() : image.virtualDiskId },
      physicalSectorSize: { old: image.physicalSectorSize, new: physicalSectorSize },
    };
    await serialMetadataEdit(image, async () => {
      const { table } = await readMetadataRegion(image);
      const item = (itemId: string, data: Uint8Array): MetadataItemValue => {
        const entry = findMetadataEntry(table, itemId);
        return {
          itemId,
          isUser: false,
          isVirtualDisk: entry?.isVirtualDisk ?? true,
          isRequired: entry?.isRequired ?? true,
          data,
        };
      };
      const set: MetadataItemValue[] = [];
      if (resetDiskId) set.push(item(VIRTUAL_DISK_ID_GUID, encodeVirtualDiskId(result.virtualDiskId.new)));
      if (physicalSectorSize !== image.physicalSectorSize)
        set.push(item(PHYSICAL_SECTOR_SIZE_GUID, encodePhysicalSectorSize(physicalSectorSize)));
      if (set.length > 0) await editMetadataRegion(image, { set });
    });
    return result;
  } finally {
    await image.close();
  }
}

function checkSectorSize(size: number, logicalSectorSize: number): void {
  if (size !== 512 && size !== 4096)
    throw new VhdxError("INVALID_ARGUMENT", `the physical sector size must be 512 or 4096; got ${size}`);
  if (size < logicalSectorSize) {
    throw new VhdxError(
      "INVALID_ARGUMENT",
      `the physical sector size cannot be smaller than the ${logicalSectorSize}-byte logical sectors`,
    );
  }
}
