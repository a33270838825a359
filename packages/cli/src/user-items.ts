// convert's copy of the source's user metadata items (MS-VHDX 2.6.1.2) into
// its VHDX output, through the output's log, before the output is closed.
import { type VhdxImage, copyUserMetadata } from "@vhdx/image";
import type { Disk } from "./disk.js";

/** Copies every user item of a VHDX source into `output`; a raw source has none. Returns how many. */
export async function copyUserItems(disk: Disk, output: VhdxImage): Promise<number> {
  return disk.image === null ? 0 : copyUserMetadata(disk.image, output);
}
