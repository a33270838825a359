// Metadata changes through the log (MS-VHDX 2.3): every BAT, sector bitmap,
// metadata or region table change is written as a log entry, flushed,
// applied in place and flushed again, so a crash at any point replays to a
// consistent file. The first entry of a session is written before LogGuid is
// set in the headers (a LogGuid over a log with no valid entry would make the
// file unreadable), and closing clears LogGuid again.
import { LogWriter, type LogUpdate } from "@vhdx/log";
import { NIL_GUID, randomGuid } from "@vhdx/guid";
import { LOG_SECTOR_SIZE, MiB, VhdxError } from "@vhdx/structs";
import type { RandomAccessSource } from "../sources/source.js";
import { type CurrentHeader, type HeaderChanges, updateHeaders } from "./header-update.js";

export interface MetadataUpdate {
  /** A 4 KiB-aligned file offset. */
  fileOffset: number;
  /** A multiple of 4 KiB, copied by the caller (the journal keeps it until applied). */
  data: Uint8Array;
}

export class MetadataJournal {
  private log: LogWriter | null = null;

  constructor(
    private readonly source: RandomAccessSource,
    private current: CurrentHeader,
    private readonly onHeader: (current: CurrentHeader) => void,
  ) {}

  /** The header update protocol, for changes that do not go through the log (the session's new GUIDs). */
  async updateHeader(changes: HeaderChanges): Promise<void> {
    await this.setHeader(await updateHeaders(this.source, this.current, changes));
  }

  /** Logs, applies and flushes `updates` in order, in as many entries as the log needs. */
  async commit(updates: readonly MetadataUpdate[]): Promise<void> {
    // An entry never overwrites the one before it, so entries of at most half
    // the log always leave room for the next one.
    const writer = this.writer();
    const limit = () => Math.min(writer.available, writer.state.logLength / 2);
    let batch: MetadataUpdate[] = [];
    for (const update of updates) {
      const candidate = [...batch, update];
      if (batch.length > 0 && LogWriter.entryLength(candidate) > limit()) {
        await this.commitEntry(batch);
        batch = [update];
      } else {
        batch = candidate;
      }
    }
    if (batch.length > 0) await this.commitEntry(batch);
  }

  /**
   * Logs an entry with no updates whose FlushedFileOffset and LastFileOffset
   * are `size`, before the file is cut to that size: otherwise the last entry
   * still names the old, larger size and a replay after a crash would refuse
   * the shorter file as truncated.
   */
  async recordFileSize(size: number): Promise<void> {
    await this.commitEntry([], size);
  }

  /** Clears LogGuid if this session set it: every entry is applied by now. */
  async close(): Promise<void> {
    if (this.log === null) return;
    this.log = null;
    await this.setHeader(await updateHeaders(this.source, this.current, { logGuid: NIL_GUID }));
  }

  private async commitEntry(updates: MetadataUpdate[], fileSize?: number): Promise<void> {
    const writer = this.writer();
    const firstOfSession = writer.state.previousEntry === undefined;
    const size = fileSize ?? (await this.source.size());
    const fileOffset = Math.floor(size / MiB) * MiB;
    const { pieces } = writer.append(updates as LogUpdate[], {
      flushedFileOffset: fileOffset,
      lastFileOffset: fileOffset,
    });
    for (const piece of pieces) await this.source.write(piece.bytes, this.current.header.logOffset + piece.ringOffset);
    await this.source.flush();
    if (firstOfSession)
      await this.setHeader(await updateHeaders(this.source, this.current, { logGuid: writer.state.logGuid }));
    for (const update of updates) await this.source.write(update.data, update.fileOffset);
    await this.source.flush();
  }

  private writer(): LogWriter {
    if (this.log === null) {
      const { logOffset, logLength } = this.current.header;
      if (logLength < 2 * LOG_SECTOR_SIZE || logOffset === 0) {
        throw new VhdxError("UNSUPPORTED", "the image has no log to write metadata changes through", {
          structure: "header",
          field: "logLength",
        });
      }
      this.log = new LogWriter({ logLength, logGuid: randomGuid(), nextOffset: 0, nextSequenceNumber: 1n });
    }
    return this.log;
  }

  private async setHeader(current: CurrentHeader): Promise<void> {
    this.current = current;
    this.onHeader(current);
  }
}
