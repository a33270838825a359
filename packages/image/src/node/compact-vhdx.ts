// Compacting a VHDX file by path: opened read-write (with its parents, read
// only), compacted, closed. See maintain/compact.ts.
import { type CompactOptions, type CompactResult, compactImage } from "../maintain/compact.js";
import { checkOptionKeys } from "../internal/options.js";
import { openVhdx } from "./open-vhdx.js";

export interface CompactVhdxOptions extends CompactOptions {
  /** Let a differencing disk's chain lead outside each child's folder (default false). */
  allowParentOutsideTree?: boolean;
}

/** Compacts the image at `path`; the file is closed afterwards, also on failure. */
export async function compactVhdx(path: string, options: CompactVhdxOptions = {}): Promise<CompactResult> {
  checkOptionKeys("compactVhdx", options, ["onProgress", "allowParentOutsideTree"]);
  const { allowParentOutsideTree = false, ...compact } = options;
  const image = await openVhdx(path, { readOnly: false, allowParentOutsideTree });
  try {
    return await compactImage(image, compact);
  } finally {
    await image.close();
  }
}
