// The views of a virtual disk the runners compare: our reader, and raw files
// (an oracle's or the generator's expected contents, or our writer's model),
// read only where they hold data.
import { open } from "node:fs/promises";
import type { VhdxImage } from "@vhdx/image";
import { readRawInto } from "../corpus/raw-file.js";
import type { ReadWindow } from "./compare-bytes.js";
import { dataExtents } from "./raw-extents.js";

export function readerView(image: VhdxImage): ReadWindow {
  return (target, offset) => image.readInto(target, offset);
}

/** Runs `body` with a view of the raw file at `path`, closed afterwards; checks the file is `size` bytes long. */
export async function withRawView<T>(path: string, size: number, body: (view: ReadWindow) => Promise<T>): Promise<T> {
  const handle = await open(path, "r");
  try {
    const { size: fileSize } = await handle.stat();
    if (fileSize !== size) throw new Error(`raw file ${path} is ${fileSize} bytes, the virtual disk ${size}`);
    const extents = dataExtents(path, size);
    return await body(async (target, offset) => {
      target.fill(0);
      const end = offset + target.length;
      for (const [start, length] of extents) {
        const from = Math.max(start, offset);
        const to = Math.min(start + length, end);
        if (from < to) await readRawInto(handle, target.subarray(from - offset, to - offset), from);
      }
    });
  } finally {
    await handle.close();
  }
}
