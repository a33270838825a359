// The header update protocol (MS-VHDX 2.2.2.1): the header is the one
// structure never written through the log. Write the new header over the
// slot that is not current, with the next sequence number, and flush; then
// do it again over the other slot, so that both hold the new contents and a
// crash at any point leaves a valid current header.
import { HEADER_1_OFFSET, HEADER_2_OFFSET, type Header, decodeHeader, encodeHeader } from "@vhdx/structs";
import type { RandomAccessSource } from "../sources/source.js";

export interface CurrentHeader {
  header: Header;
  slot: 1 | 2;
}

export type HeaderChanges = Partial<
  Pick<Header, "fileWriteGuid" | "dataWriteGuid" | "logGuid" | "logLength" | "logOffset">
>;

/** Writes `changes` into both header slots with the protocol's flushes; returns the new current header. */
export async function updateHeaders(
  source: RandomAccessSource,
  current: CurrentHeader,
  changes: HeaderChanges,
): Promise<CurrentHeader> {
  let latest = current;
  for (let pass = 0; pass < 2; pass++) {
    const slot = latest.slot === 1 ? 2 : 1;
    const bytes = encodeHeader({ ...latest.header, ...changes, sequenceNumber: latest.header.sequenceNumber + 1n });
    await source.write(bytes, slot === 1 ? HEADER_1_OFFSET : HEADER_2_OFFSET);
    await source.flush();
    latest = { header: decodeHeader(bytes), slot };
  }
  return latest;
}
