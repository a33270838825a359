// What a disk says about its place in a chain, read without opening it as an
// image: its DataWriteGuid (which its children name as parent_linkage) and,
// for a differencing disk, the linkages of its parent (MS-VHDX 2.6.2.6). Reads
// the header section and the metadata region, with the log replayed in memory
// first when there is one (the region table and metadata go through the log).
import { isNilGuid } from "@vhdx/guid";
import { REGION_TABLE_1_OFFSET, REGION_TABLE_2_OFFSET } from "@vhdx/structs";
import { type RandomAccessSource, readBytes } from "../sources/source.js";
import { readHeaders, usableRegionTable } from "./header-section.js";
import { checkLayout } from "./layout.js";
import { readReplayPlan, replayInMemory } from "./log-replay.js";
import { readMetadata } from "./metadata.js";
import { linkageGuids } from "./parents.js";

export interface ChainLinks {
  dataWriteGuid: string;
  /** parent_linkage (and parent_linkage2 when present) of a differencing disk; empty for a disk without a parent. */
  parentLinkages: string[];
}

/** The disk's links, or a VhdxError when it is not a VHDX image that opens. */
export async function readChainLinks(source: RandomAccessSource): Promise<ChainLinks> {
  const headers = await readHeaders(source);
  const { header } = headers;
  let view = source;
  let bytes = headers.bytes;
  if (!isNilGuid(header.logGuid)) {
    view = replayInMemory(source, await readReplayPlan(source, header, await source.size()));
    bytes = await readBytes(view, 0, bytes.length, "header section");
  }
  const { table, copy } = usableRegionTable(bytes);
  const layout = checkLayout(header, table, copy === 1 ? REGION_TABLE_1_OFFSET : REGION_TABLE_2_OFFSET);
  const { parentLocator } = await readMetadata(view, layout.metadata);
  return {
    dataWriteGuid: header.dataWriteGuid,
    parentLinkages: parentLocator === null ? [] : linkageGuids(parentLocator.entries),
  };
}
