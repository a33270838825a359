// Compacting a VHDX file by path: opened read-write (with its parents, read
// only), compacted, closed. See maintain/compact.ts.
import { type CompactOptions, type CompactResult, compactImage } from "../maintain/compact.js";
import { openVhdx } from "./open-vhdx.js";

/** Compacts the image at `path`; the file is closed afterwards, also on failure. */
export async function compactVhdx(path: string, options: CompactOptions = {}): Promise<CompactResult> {
  const image = await openVhdx(path, { readOnly: false });
  try {
    return await compactImage(image, options);
  } finally {
    await image.close();
  }
}
