// MS-VHDX 2.3 Log and 2.3.1 Log Entry, writing: one entry per batch of
// metadata updates, laid out exactly as the reader (entry.ts) checks it. The
// caller writes the pieces, flushes, applies the updates, flushes, and only
// then appends the next entry; so every entry is a complete sequence alone.
//
// | writes                     | value                                                        |
// |----------------------------|--------------------------------------------------------------|
// | entry header (2.3.1.1)     | "loge", checksum over the entry, EntryLength, Tail = the entry's own offset, SequenceNumber (state, +1 per entry), DescriptorCount, LogGuid, the caller's FlushedFileOffset and LastFileOffset |
// | descriptors (2.3.1.2, .3)  | one "zero" per zero update, one "desc" per 4 KiB of each data update, in update order |
// | data sectors (2.3.1.4)     | one per data descriptor, in the same order                   |
// | ring placement             | from state.nextOffset, wrapping to 0; never over state.previousEntry, else LOG_FULL |
import { isNilGuid } from "@vhdx/guid";
import {
  descriptorSectorCount,
  encodeDataDescriptor,
  encodeDataSector,
  encodeLogEntryHeader,
  encodeZeroDescriptor,
  LOG_DESCRIPTOR_SIZE,
  LOG_ENTRY_HEADER_SIZE,
  LOG_SECTOR_SIZE,
  MiB,
  splitLogUpdate,
  VhdxError,
  writeLogEntryChecksum,
} from "@vhdx/structs";
import { checkLogGuid, checkLogLength, checkRingOffset, checkSize, forwardDistance, hex } from "./ring.js";

/** `data`: a nonzero multiple of 4096 bytes; `zeroLength`: a nonzero multiple of 4096; `fileOffset`: 4 KiB-aligned. */
export type LogUpdate = { fileOffset: number; data: Uint8Array } | { fileOffset: number; zeroLength: number };

export interface LogWriterState {
  /** LogLength: the ring's size. */
  logLength: number;
  /** The header's LogGuid for this session; never nil. */
  logGuid: string;
  /** Ring offset where the next entry starts (4 KiB-aligned). */
  nextOffset: number;
  /** Sequence number of the next entry: 1 for a new session with a fresh LogGuid. */
  nextSequenceNumber: bigint;
  /** The last entry written, which the next one must not overwrite. */
  previousEntry?: { offset: number; length: number };
}

export interface AppendedEntry {
  /** The whole entry, contiguous, checksum written. */
  entry: Uint8Array;
  /** The ring writes to make: one piece, or two when the entry wraps to offset 0. Views of `entry`. */
  pieces: Array<{ ringOffset: number; bytes: Uint8Array }>;
  sequenceNumber: bigint;
  /** Ring offset of the entry's first sector. */
  offset: number;
}

const MAX_SEQUENCE_NUMBER = 0xffff_ffff_ffff_ffffn;

export class LogWriter {
  #state: LogWriterState;

  constructor(state: LogWriterState) {
    this.#state = checkState(state);
  }

  /** A copy of the current state: enough to make an equal writer later. */
  get state(): LogWriterState {
    const { previousEntry, ...rest } = this.#state;
    return previousEntry === undefined ? { ...rest } : { ...rest, previousEntry: { ...previousEntry } };
  }

  /** Bytes free for the next entry: from nextOffset up to the previous entry, wrapping. */
  get available(): number {
    const { logLength, nextOffset, previousEntry } = this.#state;
    return previousEntry === undefined ? logLength : forwardDistance(nextOffset, previousEntry.offset, logLength);
  }

  /** Bytes the entry for `updates` takes: descriptor sectors plus one sector per 4 KiB of data. */
  static entryLength(updates: LogUpdate[]): number {
    return layout(updates, "LogWriter.entryLength").entryLength;
  }

  /**
   * Builds one entry holding all `updates` (an empty list makes an entry with
   * no descriptors, e.g. to record new file offsets), returns the ring writes
   * to make and advances the state. LOG_FULL, with the state unchanged, when
   * the entry does not fit before the previous entry.
   */
  append(updates: LogUpdate[], offsets: { flushedFileOffset: number; lastFileOffset: number }): AppendedEntry {
    const where = "LogWriter.append";
    const { entryLength, descriptorSectors, descriptorCount } = layout(updates, where);
    const flushedFileOffset = checkFileSize(offsets?.flushedFileOffset, where, "flushedFileOffset");
    const lastFileOffset = checkFileSize(offsets?.lastFileOffset, where, "lastFileOffset");
    const { logLength, logGuid, nextOffset: offset, nextSequenceNumber: sequenceNumber, previousEntry } = this.#state;
    const available = this.available;
    if (entryLength > available) {
      const kept =
        previousEntry === undefined
          ? ""
          : ` without overwriting the previous entry (${previousEntry.length} bytes at ${hex(previousEntry.offset)})`;
      const detail = `the entry needs ${entryLength} bytes, only ${available} of the ${logLength}-byte log are free at ring offset ${hex(offset)}${kept}`;
      throw new VhdxError("LOG_FULL", detail, { structure: "log" });
    }
    if (sequenceNumber > MAX_SEQUENCE_NUMBER) {
      throw new VhdxError("OUT_OF_RANGE", `${where}: sequence numbers are used up`, {
        structure: "log entry header",
        field: "sequenceNumber",
      });
    }

    const entry = new Uint8Array(entryLength);
    const header = {
      entryLength,
      tail: offset,
      sequenceNumber,
      descriptorCount,
      logGuid,
      flushedFileOffset,
      lastFileOffset,
    };
    entry.set(encodeLogEntryHeader(header), 0);
    let descriptor = LOG_ENTRY_HEADER_SIZE;
    let sector = descriptorSectors * LOG_SECTOR_SIZE;
    for (const update of updates) {
      if ("zeroLength" in update) {
        entry.set(
          encodeZeroDescriptor({ zeroLength: update.zeroLength, fileOffset: update.fileOffset, sequenceNumber }),
          descriptor,
        );
        descriptor += LOG_DESCRIPTOR_SIZE;
        continue;
      }
      for (let at = 0; at < update.data.length; at += LOG_SECTOR_SIZE) {
        const split = splitLogUpdate(
          update.data.subarray(at, at + LOG_SECTOR_SIZE),
          update.fileOffset + at,
          sequenceNumber,
        );
        entry.set(encodeDataDescriptor(split.descriptor), descriptor);
        entry.set(encodeDataSector(split.sector), sector);
        descriptor += LOG_DESCRIPTOR_SIZE;
        sector += LOG_SECTOR_SIZE;
      }
    }
    writeLogEntryChecksum(entry);

    const first = Math.min(entryLength, logLength - offset);
    const pieces = [{ ringOffset: offset, bytes: entry.subarray(0, first) }];
    if (first < entryLength) pieces.push({ ringOffset: 0, bytes: entry.subarray(first) });
    this.#state = {
      logLength,
      logGuid,
      nextOffset: (offset + entryLength) % logLength,
      nextSequenceNumber: sequenceNumber + 1n,
      previousEntry: { offset, length: entryLength },
    };
    return { entry, pieces, sequenceNumber, offset };
  }
}

/** Checks every update; the entry's length and descriptor sector count. */
function layout(
  updates: unknown,
  where: string,
): { entryLength: number; descriptorSectors: number; descriptorCount: number } {
  if (!Array.isArray(updates)) throw new TypeError(`${where}: updates must be an array`);
  let dataSectors = 0;
  let descriptors = 0;
  updates.forEach((update: unknown, i) => {
    const name = `updates[${i}]`;
    if (typeof update !== "object" || update === null) throw new TypeError(`${where}: ${name} must be an object`);
    const u = update as Record<string, unknown>;
    const fileOffset = checkSize(u.fileOffset, where, `${name}.fileOffset`);
    const hasData = "data" in u;
    if (hasData === "zeroLength" in u) throw new TypeError(`${where}: ${name} needs either data or zeroLength`);
    let length: number;
    if (hasData) {
      if (!(u.data instanceof Uint8Array)) throw new TypeError(`${where}: ${name}.data must be a Uint8Array`);
      length = u.data.length;
    } else {
      length = checkSize(u.zeroLength, where, `${name}.zeroLength`);
    }
    const field = hasData ? `${name}.data` : `${name}.zeroLength`;
    if (fileOffset % LOG_SECTOR_SIZE !== 0)
      badField(where, `${name}.fileOffset`, `${name}.fileOffset ${fileOffset} is not a multiple of 4 KiB`);
    if (length === 0 || length % LOG_SECTOR_SIZE !== 0)
      badField(where, field, `${field} is ${length} bytes, not a nonzero multiple of 4 KiB`);
    if (fileOffset + length > Number.MAX_SAFE_INTEGER) {
      throw new VhdxError("OUT_OF_RANGE", `${where}: ${name} ends past 2^53 - 1`, { structure: "log", field });
    }
    if (hasData) {
      dataSectors += length / LOG_SECTOR_SIZE;
      descriptors += length / LOG_SECTOR_SIZE;
    } else {
      descriptors += 1;
    }
  });
  const descriptorSectors = descriptorSectorCount(descriptors);
  return {
    entryLength: (descriptorSectors + dataSectors) * LOG_SECTOR_SIZE,
    descriptorSectors,
    descriptorCount: descriptors,
  };
}

function checkFileSize(value: unknown, where: string, name: string): number {
  const size = checkSize(value, where, name);
  if (size % MiB !== 0) badField(where, name, `${name} ${size} is not a multiple of 1 MiB`);
  return size;
}

function checkState(state: LogWriterState): LogWriterState {
  const where = "new LogWriter";
  if (typeof state !== "object" || state === null) throw new TypeError(`${where}: state must be an object`);
  const logLength = checkSize(state.logLength, where, "logLength");
  checkLogLength(logLength, where);
  const logGuid = checkLogGuid(state.logGuid, where);
  if (isNilGuid(logGuid))
    throw new TypeError(`${where}: logGuid is nil; a session writes with a fresh, non-nil LogGuid`);
  const nextOffset = checkRingOffset(state.nextOffset, logLength, where, "nextOffset");
  const sequence = state.nextSequenceNumber;
  if (typeof sequence !== "bigint") throw new TypeError(`${where}: nextSequenceNumber must be a bigint`);
  if (sequence < 1n || sequence > MAX_SEQUENCE_NUMBER) {
    throw new VhdxError("OUT_OF_RANGE", `${where}: nextSequenceNumber ${sequence} is outside 1 to 2^64 - 1`, {
      structure: "log",
      field: "nextSequenceNumber",
    });
  }
  const checked: LogWriterState = { logLength, logGuid, nextOffset, nextSequenceNumber: sequence };
  const previous = state.previousEntry;
  if (previous === undefined) return checked;
  if (typeof previous !== "object" || previous === null)
    throw new TypeError(`${where}: previousEntry must be an object`);
  const offset = checkRingOffset(previous.offset, logLength, where, "previousEntry.offset");
  const length = checkSize(previous.length, where, "previousEntry.length");
  if (length === 0 || length % LOG_SECTOR_SIZE !== 0 || length > logLength) {
    badField(
      where,
      "previousEntry.length",
      `previousEntry.length ${length} is not a nonzero multiple of 4 KiB within the log`,
    );
  }
  // nextOffset may not lie inside the previous entry (a full-ring entry ends where it starts).
  if (length < logLength && forwardDistance(offset, nextOffset, logLength) < length) {
    badField(
      where,
      "nextOffset",
      `nextOffset ${hex(nextOffset)} lies inside the previous entry (${length} bytes at ${hex(offset)})`,
    );
  }
  return { ...checked, previousEntry: { offset, length } };
}

function badField(where: string, field: string, detail: string): never {
  throw new VhdxError("BAD_FIELD", `${where}: ${detail}`, { structure: "log", field });
}
