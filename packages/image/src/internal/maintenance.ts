// The primitives under compact, resize and merge (maintain/, node/merge-vhdx.ts):
// move a block, write structure pages through the log, cut the file. They
// are not part of VhdxImage's public type (see writer-handle.ts); on a
// read-only image they fail with READ_ONLY.
import type { VhdxImage } from "../image.js";
import { attachedWriter as writer } from "./writer-handle.js";

/** Moves the block of BAT entry `batIndex` to `newOffset` in free space (compact); see ImageWriter.relocateBlock. */
export async function relocateBlock(
  image: VhdxImage,
  batIndex: number,
  newOffset: number,
  length: number,
): Promise<void> {
  await writer(image, "relocateBlock").relocateBlock(batIndex, newOffset, length);
}

/**
 * Writes whole 4 KiB pages of structures other than the BAT (region tables,
 * metadata items) through the log (resize, merge, metadata edits). The
 * image's in-memory view does not follow; reopen it afterwards. `changesData`
 * false keeps DataWriteGuid (see ImageWriter.commitStructures).
 */
export async function commitStructures(
  image: VhdxImage,
  updates: readonly { fileOffset: number; data: Uint8Array }[],
  changesData = true,
): Promise<void> {
  await writer(image, "commitStructures").commitStructures(updates, changesData);
}

/**
 * Cuts the file to `size`, which must lie past every structure and block
 * still in use (compact); crash-safe through the log.
 */
export async function truncateFile(image: VhdxImage, size: number): Promise<void> {
  await writer(image, "truncateFile").truncateFile(size);
}
