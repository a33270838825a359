// How a writable VhdxImage hands its writer to internal/maintenance.ts without
// putting it on its public type: a property under a Symbol.for key, so that an
// image built by another copy of this package works too (as VhdxError's
// marker does). In a module of its own so that image.ts and maintenance.ts do
// not import each other.
import type { ImageWriter } from "../write/image-writer.js";

const WRITER = Symbol.for("@vhdx/image.writer");

/** The image's writer for `operation`; throws READ_ONLY for a read-only image. */
export type WriterOf = (operation: string) => ImageWriter;

/** Called by the VhdxImage constructor. */
export function attachWriter(image: object, writerOf: WriterOf): void {
  Object.defineProperty(image, WRITER, { value: writerOf });
}

/** The writer `image` attached, for `operation`. */
export function attachedWriter(image: object, operation: string): ImageWriter {
  const writerOf = (image as { [WRITER]?: WriterOf })[WRITER];
  if (typeof writerOf !== "function") throw new TypeError(`${operation}: expected an image opened by @vhdx/image`);
  return writerOf(operation);
}
