// The expected contents of images QEMU cannot open (4 KiB sectors,
// differencing chains our writer made): python3-libvhdi reads the whole disk,
// piece by piece, into a sparse raw file.
import { pyvhdiRead } from "@vhdx-tools/oracles";
import { writeSparseRaw } from "./raw-file.js";

/** Writes libvhdi's view of the disk at `path` (with `parents`, nearest first) to `raw`. */
export function pyvhdiRaw(path: string, parents: readonly string[], size: number, raw: string): Promise<void> {
  return writeSparseRaw(raw, size, (offset, length) => pyvhdiRead(path, [[offset, length]], parents));
}
