// Reading payload bytes for a read of the virtual disk. mapRange (@vhdx/bat)
// already merges a read's neighbouring blocks whose payloads lie next to each
// other in the file into one run, so a sequential read of a freshly converted
// image costs one source read per call, whatever the source. This bounds
// each source read, so one large readInto never becomes a single huge HTTP
// answer (or file read) that cannot be cut short or retried in pieces.
import { MiB } from "@vhdx/structs";
import { type RandomAccessSource, readExactly } from "../sources/source.js";

/** The most one source read of payload asks for. */
export const MAX_PAYLOAD_READ = 8 * MiB;

/** Fills `target` from `fileOffset` in reads of at most MAX_PAYLOAD_READ bytes, or throws TRUNCATED. */
export async function readPayload(source: RandomAccessSource, target: Uint8Array, fileOffset: number): Promise<void> {
  for (let done = 0; done < target.length; done += MAX_PAYLOAD_READ) {
    const piece = target.subarray(done, Math.min(target.length, done + MAX_PAYLOAD_READ));
    await readExactly(source, piece, fileOffset + done, "payload block");
  }
}
