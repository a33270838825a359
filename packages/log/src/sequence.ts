// MS-VHDX 2.3.2 Log Sequence and 2.3.3 Log Replay (finding the active
// sequence). A sequence is a chain of valid entries, each starting where the
// one before it ended (wrapping) with a sequence number one higher; it is
// complete when its last entry (the head) has a Tail that points at one of
// its entries (the tail entry). The active sequence is the complete one whose
// head has the highest sequence number; replay runs from its tail entry.
//
// | reads, per entry        | used for                                             |
// |-------------------------|------------------------------------------------------|
// | every rule of entry.ts  | only valid entries take part                         |
// | offset + EntryLength    | where the next entry of the chain must start         |
// | SequenceNumber          | the next entry's must be exactly one higher; picks the newest head |
// | Tail                    | the head's must point at an entry of its own chain   |
//
// Every 4 KiB sector is tried as an entry start once; the chains are then
// followed with memoised links, so the whole search is linear in the ring.
import { isNilGuid } from "@vhdx/guid";
import { LOG_SECTOR_SIZE, type LogEntryHeader } from "@vhdx/structs";
import { buildEntry, checkEntry, type LogEntry } from "./entry.js";
import { checkLogGuid, checkRing, hasSignature } from "./ring.js";

export interface LogSequence {
  /** Tail to head, in replay order. */
  entries: LogEntry[];
  head: LogEntry;
  /** Ring offset of the tail entry (the head's Tail). */
  tailOffset: number;
  /** Ring offset just after the head, wrapped: where a writer would continue. */
  nextOffset: number;
}

const NONE = -1;

/**
 * The active sequence of the log, or null when the log has no valid complete
 * sequence (or `logGuid` is nil: the log is empty). `ring` is the whole log,
 * LogLength bytes; `logGuid` is the header's LogGuid.
 */
export function findActiveSequence(ring: Uint8Array, logGuid: string): LogSequence | null {
  checkRing(ring, "findActiveSequence");
  const guid = checkLogGuid(logGuid, "findActiveSequence");
  if (isNilGuid(guid)) return null;
  const sectors = ring.length / LOG_SECTOR_SIZE;

  // 1. Every sector as a candidate entry start: the header of each valid entry.
  const headers: Array<LogEntryHeader | undefined> = new Array(sectors);
  for (let s = 0; s < sectors; s++) {
    if (!hasSignature(ring, s * LOG_SECTOR_SIZE, "loge")) continue;
    const checked = checkEntry(ring, s * LOG_SECTOR_SIZE, guid);
    if (checked.ok) headers[s] = checked.header;
  }

  // 2. Links: the entry that continues each chain, if any. Sequence numbers
  //    rise along a link, so following links never loops.
  const next = new Int32Array(sectors).fill(NONE);
  for (let s = 0; s < sectors; s++) {
    const header = headers[s];
    if (header === undefined) continue;
    const after = endSector(s, header, sectors);
    if (headers[after]?.sequenceNumber === header.sequenceNumber + 1n) next[s] = after;
  }

  // 3. For every entry, the last entry of its chain (its head) and the bytes
  //    from it to that head inclusive, each computed once.
  const head = new Int32Array(sectors).fill(NONE);
  const bytesToHead = new Float64Array(sectors);
  const path: number[] = [];
  for (let s = 0; s < sectors; s++) {
    if (headers[s] === undefined || head[s] !== NONE) continue;
    let at = s;
    while (head[at] === NONE && next[at] !== NONE) {
      path.push(at);
      at = next[at]!;
    }
    if (head[at] === NONE) {
      head[at] = at;
      bytesToHead[at] = headers[at]!.entryLength;
    }
    for (let i = path.length - 1; i >= 0; i--) {
      const entry = path[i]!;
      head[entry] = head[at]!;
      bytesToHead[entry] = headers[entry]!.entryLength + bytesToHead[next[entry]!]!;
    }
    path.length = 0;
  }

  // 4. A head's sequence is complete when its Tail names an entry of its own
  //    chain. (Valid entries never share a sector, since only a first sector
  //    starts with "loge", so a sequence always fits in the ring; the length
  //    check only guards that.) Ties go to the lowest ring offset.
  let best = NONE;
  for (let s = 0; s < sectors; s++) {
    const header = headers[s];
    if (header === undefined || head[s] !== s) continue;
    const tail = header.tail / LOG_SECTOR_SIZE;
    if (head[tail] !== s || bytesToHead[tail]! > ring.length) continue;
    if (best === NONE || header.sequenceNumber > headers[best]!.sequenceNumber) best = s;
  }
  if (best === NONE) return null;

  const bestHeader = headers[best]!;
  const entries: LogEntry[] = [];
  for (let at = bestHeader.tail / LOG_SECTOR_SIZE; ; at = next[at]!) {
    entries.push(buildEntry(ring, at * LOG_SECTOR_SIZE, headers[at]!));
    if (at === best) break;
  }
  return {
    entries,
    head: entries[entries.length - 1]!,
    tailOffset: bestHeader.tail,
    nextOffset: endSector(best, bestHeader, sectors) * LOG_SECTOR_SIZE,
  };
}

/** The sector just after the entry at sector `s`, wrapped. */
function endSector(s: number, header: LogEntryHeader, sectors: number): number {
  return (s + header.entryLength / LOG_SECTOR_SIZE) % sectors;
}
