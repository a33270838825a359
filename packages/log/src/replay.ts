// MS-VHDX 2.3.3 Log Replay: what to write to the file, in order, to replay the
// active sequence; the caller (the image layer) does the I/O, then flushes and
// clears the header's LogGuid.
//
// | reads                              | rule                                                      |
// |------------------------------------|-----------------------------------------------------------|
// | the active sequence (sequence.ts)  | none while LogGuid is set: LOG_CORRUPT                    |
// | head's FlushedFileOffset           | the file must be at least this long, else TRUNCATED       |
// | every descriptor, tail to head     | a data descriptor writes its 4 KiB, a zero descriptor zeroes ZeroLength bytes |
// | head's LastFileOffset              | grow the file to at least this after the writes           |
import { isNilGuid } from "@vhdx/guid";
import { VhdxError } from "@vhdx/structs";
import type { LogEntry } from "./entry.js";
import { checkLogGuid, checkRing, checkSize, hex } from "./ring.js";
import { findActiveSequence, type LogSequence } from "./sequence.js";

export type ReplayOperation =
  | { kind: "write"; fileOffset: number; data: Uint8Array }
  | { kind: "zero"; fileOffset: number; length: number };

export interface ReplayPlan {
  /** In replay order: descriptors in stored order, entries from tail to head. */
  operations: ReplayOperation[];
  /** Grow the file to at least this after the operations: the head's LastFileOffset. */
  fileSize: number;
  /** The head's FlushedFileOffset. */
  flushedFileOffset: number;
  /** The largest end (fileOffset + length) of any operation, 0 when there are none. */
  operationsEnd: number;
  sequence: LogSequence;
}

/**
 * Finds the active sequence of the log and lists its writes. `fileSize` is the
 * file's current size; `logFileOffset`, where the log starts in the file, is
 * only used in error messages. Throws LOG_CORRUPT when no valid sequence
 * exists and TRUNCATED when the file is shorter than the head's
 * FlushedFileOffset. A nil `logGuid` means there is nothing to replay: a
 * TypeError, since the caller should not have asked.
 */
export function planReplay(ring: Uint8Array, logGuid: string, fileSize: number, logFileOffset?: number): ReplayPlan {
  checkRing(ring, "planReplay");
  const guid = checkLogGuid(logGuid, "planReplay");
  checkSize(fileSize, "planReplay", "fileSize");
  if (logFileOffset !== undefined) checkSize(logFileOffset, "planReplay", "logFileOffset");
  if (isNilGuid(guid))
    throw new TypeError("planReplay: the header's LogGuid is nil, so the log is empty: nothing to replay");

  const sequence = findActiveSequence(ring, guid);
  if (sequence === null) {
    const detail =
      `no valid, complete log sequence in the ${ring.length}-byte log, yet the header's LogGuid is ${guid}: ` +
      "the file is corrupt and must not be opened";
    throw new VhdxError("LOG_CORRUPT", detail, { structure: "log", offset: logFileOffset });
  }
  const head = sequence.head.header;
  if (fileSize < head.flushedFileOffset) {
    const detail =
      `the file is ${fileSize} bytes, shorter than the ${head.flushedFileOffset} bytes of the log head's ` +
      `FlushedFileOffset (entry at ring offset ${hex(sequence.head.offset)}): the file was truncated`;
    const offset = logFileOffset === undefined ? undefined : logFileOffset + sequence.head.offset;
    throw new VhdxError("TRUNCATED", detail, { structure: "log entry header", field: "flushedFileOffset", offset });
  }
  const { operations, end } = operationsOf(sequence.entries);
  return {
    operations,
    fileSize: head.lastFileOffset,
    flushedFileOffset: head.flushedFileOffset,
    operationsEnd: end,
    sequence,
  };
}

function operationsOf(entries: LogEntry[]): { operations: ReplayOperation[]; end: number } {
  const operations: ReplayOperation[] = [];
  let end = 0;
  for (const entry of entries) {
    for (const d of entry.descriptors) {
      if (d.kind === "data") {
        operations.push({ kind: "write", fileOffset: d.fileOffset, data: d.data });
        end = Math.max(end, d.fileOffset + d.data.length);
      } else {
        // The length travels as a number, never as a buffer: the caller
        // zeroes the range in pieces or by whatever means its file has.
        operations.push({ kind: "zero", fileOffset: d.fileOffset, length: d.zeroLength });
        end = Math.max(end, d.fileOffset + d.zeroLength);
      }
    }
  }
  return { operations, end };
}
