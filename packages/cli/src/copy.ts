// Moving a virtual disk's bytes somewhere else, shared by cat, read and
// convert: find where the data is (a VHDX's extents say; zeros are never read),
// copy it in large pieces with the next read and the zero scan overlapping the
// last write, and write files sparse, all or nothing (see output-file.ts).
// The pieces come from reads of our own, or (cat) from image.stream() over
// each data stretch, whose queue is the read-ahead.
// The guards are in guards.ts, the zero scan in zero-scan.ts. Over 300 lines:
// the read-ahead pipeline and its sinks (a stream, a sparse file, an
// all-or-nothing output) are one mechanism.
import { Buffer } from "node:buffer";
import { type FileHandle, open } from "node:fs/promises";
import { type VhdxImage, VhdxError } from "@vhdx/image";
import { EXIT_OK } from "./command.js";
import type { Disk } from "./disk.js";
import { isClosedPipe, quietOnClosedPipe, refuseSameFile } from "./guards.js";
import type { Interrupts } from "./interrupt.js";
import { type CliIO, writeChunk } from "./io.js";
import { writeOutput } from "./output-file.js";
import { tracker } from "./progress.js";
import { nonZeroRuns } from "./zero-scan.js";

// ---------------------------------------------------------------- ranges

const MiB = 1 << 20;
/** Bytes read and written at a time: few syscalls, bounded memory. */
export const PIECE = 8 * MiB;

/**
 * The (offset, length) stretches of [offset, offset + length) that hold data,
 * in order; everything between them reads as zeros. A raw disk is all data; a
 * VHDX's are its data extents (image.extents(), the parents' included),
 * neighbours joined whatever file they are in.
 */
export async function* dataExtents(disk: Disk, offset: number, length: number): AsyncGenerator<[number, number]> {
  if (length === 0) return;
  if (disk.image === null) {
    yield* rawDataStretches(disk, offset, length);
    return;
  }
  let start = offset;
  let end = offset; // [start, end): data not yet handed out
  for await (const extent of disk.image.extents(offset, length)) {
    if (extent.kind !== "data") continue;
    if (extent.start !== end) {
      if (end > start) yield [start, end - start];
      start = extent.start;
    }
    end = extent.start + extent.length;
  }
  if (end > start) yield [start, end - start];
}

/**
 * Holes shorter than this inside a raw file are read (as zeros, which the
 * zero scan drops) rather than skipped: fewer, larger reads.
 */
const SMALLEST_HOLE_SKIPPED = MiB;

/** A raw disk's data stretches as its file system reports them (all of it where it cannot), short holes joined in. */
function* rawDataStretches(disk: Disk, offset: number, length: number): Generator<[number, number]> {
  if (disk.dataStretches === undefined) {
    yield [offset, length];
    return;
  }
  let start = -1;
  let end = -1;
  for (const stretch of disk.dataStretches(offset, length)) {
    if (start >= 0 && stretch.offset - end >= SMALLEST_HOLE_SKIPPED) {
      yield [start, end - start];
      start = -1;
    }
    if (start < 0) start = stretch.offset;
    end = stretch.offset + stretch.length;
  }
  if (start >= 0) yield [start, end - start];
}

/** The data stretches cut into pieces of at most PIECE bytes. */
async function* dataPieces(disk: Disk, offset: number, length: number): AsyncGenerator<[number, number]> {
  for await (const [start, size] of dataExtents(disk, offset, length)) {
    for (let at = start; at < start + size; at += PIECE) yield [at, Math.min(PIECE, start + size - at)];
  }
}

// ---------------------------------------------------------------- copying

/** Where copyRange puts what it reads. */
export interface Sink {
  /** Bytes of the disk at virtual `offset`. Calls come one at a time, in order. */
  data(bytes: Uint8Array, offset: number): Promise<void>;
  /** [offset, offset + length) reads as zeros; a sink without this leaves a gap. */
  zeros?(offset: number, length: number): Promise<void>;
  /** True when the sink is done with `bytes` once data() resolves, so buffers can be reused. */
  readonly reusesBuffers: boolean;
  /**
   * True when aligned ZERO_GRAIN stretches of zeros are left out of data()
   * (they stay holes, or blocks left unallocated), and are not given to
   * zeros() either.
   */
  readonly skipsZeroGrains?: boolean;
  /**
   * How many data() calls may run at once (default 1: one at a time, in
   * order). A sink that writes at the offsets given, in any order, may take
   * MAX_WRITES_IN_FLIGHT.
   */
  readonly writesInFlight?: number;
}

/**
 * Reads in flight at most: two keep both cores copying from the page cache
 * when reading is the bottleneck (pieces of zeros, nothing to write), while
 * one leaves the writer a core of its own when writing is.
 */
const MAX_READS_IN_FLIGHT = 2;
/**
 * Writes in flight at most, for a sink that allows it: two keep the file
 * system busy while the next piece is scanned and handed over (in a 1 GiB
 * copy to a raw file, 70-100 ms less than one at a time).
 */
const MAX_WRITES_IN_FLIGHT = 2;
/** Buffers: the reads in flight, the piece being scanned, and the ones being written. */
const BUFFERS = MAX_READS_IN_FLIGHT + 1 + MAX_WRITES_IN_FLIGHT;
/** What image.stream() holds ahead of copyRange, as pieceReader's reads in flight do. */
const STREAM_AHEAD = MAX_READS_IN_FLIGHT * PIECE;

interface ReadPiece {
  bytes: Uint8Array;
  offset: number;
}

/** Hands out the pieces to copy, in order, reading ahead of the caller. */
interface PieceReader {
  /** The next piece, or null at the end; `ahead` asks for that many reads in flight, where the reader can. */
  next(ahead: number): Promise<ReadPiece | null>;
  /** Stops reading ahead, after a failure. */
  cancel(): Promise<void>;
}

/** How copyRange reads: its own reads into its buffers, or image.stream() (a VHDX only). */
export type ReadVia = "reads" | "stream";

/**
 * Copies [offset, offset + length) of `disk` into `sink`, reading only the
 * disk's data (dataExtents) a piece at a time. The next pieces are read,
 * and the one just read is scanned for zero grains, while the sink writes the
 * one before: the sink's writes, the usual bottleneck, follow each other with
 * no gap. `done` hears the bytes handled so far. When `stop` aborts, the copy
 * ends with its reason after the write in flight, none being left running.
 */
export async function copyRange(
  disk: Disk,
  offset: number,
  length: number,
  sink: Sink,
  done?: (bytes: number) => void,
  stop?: AbortSignal,
  via: ReadVia = "reads",
): Promise<void> {
  const end = offset + length;
  const reads =
    via === "stream" && disk.image !== null
      ? streamReader(disk.image, dataExtents(disk, offset, length))
      : pieceReader(disk, offset, length, sink.reusesBuffers);
  const writesAtOnce = Math.min(Math.max(1, sink.writesInFlight ?? 1), MAX_WRITES_IN_FLIGHT);
  const writing: Promise<void>[] = [];
  let position = offset;
  let readsInFlight = 1;
  try {
    for (let piece = await reads.next(readsInFlight); piece !== null; piece = await reads.next(readsInFlight)) {
      const runs = sink.skipsZeroGrains ? nonZeroRuns(piece.bytes) : [0, piece.bytes.length];
      readsInFlight = runs.length === 0 ? MAX_READS_IN_FLIGHT : 1;
      while (writing.length >= writesAtOnce) await writing.shift();
      stop?.throwIfAborted();
      writing.push(quietUntilAwaited(writeAfterGap(sink, position, piece, runs)));
      position = piece.offset + piece.bytes.length;
      done?.(position - offset);
    }
    await Promise.all(writing);
  } catch (error) {
    await Promise.allSettled(writing);
    await reads.cancel().catch(() => undefined);
    throw error;
  }
  stop?.throwIfAborted();
  await fillGap(sink, position, end);
  if (position < end) done?.(length);
}

/**
 * The disk's data pieces in order, `ahead` of them (at most
 * MAX_READS_IN_FLIGHT) read ahead. Each next() hands out a piece and starts
 * the reads after it, each into the buffer of a piece handed out at least
 * BUFFERS - MAX_READS_IN_FLIGHT calls before: the caller must be done with
 * those (copyRange has awaited their writes by then).
 */
function pieceReader(disk: Disk, offset: number, length: number, reuseBuffers: boolean): PieceReader {
  const pieces = dataPieces(disk, offset, length);
  const pool: Uint8Array[] = [];
  const inFlight: Promise<ReadPiece>[] = [];
  let turn = 0;
  let exhausted = false;
  const read = async (at: number, count: number): Promise<ReadPiece> => {
    const slot = turn++ % BUFFERS;
    if (reuseBuffers && pool[slot] === undefined) pool[slot] = new Uint8Array(Math.min(PIECE, length));
    const bytes = reuseBuffers ? pool[slot]!.subarray(0, count) : Buffer.allocUnsafe(count);
    await disk.readInto(bytes, at);
    return { bytes, offset: at };
  };
  const startReads = async (ahead: number) => {
    while (!exhausted && inFlight.length < ahead) {
      const next = await pieces.next();
      if (next.done) exhausted = true;
      else inFlight.push(quietUntilAwaited(read(...next.value)));
    }
  };
  return {
    async next(ahead: number): Promise<ReadPiece | null> {
      await startReads(1);
      const first = inFlight.shift();
      if (first === undefined) return null;
      const piece = await first;
      await startReads(ahead);
      return piece;
    },
    // The reads in flight (at most MAX_READS_IN_FLIGHT) end by themselves.
    cancel: async () => undefined,
  };
}

/**
 * The pieces of each data stretch as image.stream() gives them: chunks of
 * PIECE bytes (ending on multiples of PIECE), the stream reading ahead until
 * it holds STREAM_AHEAD bytes besides the chunk it is reading. Each chunk is a
 * new buffer, so the sink may keep it; it is not zeroed first, since the
 * stream fills it whole.
 */
function streamReader(image: VhdxImage, stretches: AsyncGenerator<[number, number]>): PieceReader {
  let reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  let position = 0;
  return {
    async next() {
      for (;;) {
        if (reader === null) {
          const stretch = await stretches.next();
          if (stretch.done) return null;
          const [start, size] = stretch.value;
          const options = { chunkSize: PIECE, highWaterMark: STREAM_AHEAD, allocate: Buffer.allocUnsafe };
          reader = image.stream(start, size, options).getReader();
          position = start;
        }
        const chunk = await reader.read();
        if (!chunk.done) {
          position += chunk.value.length;
          return { bytes: chunk.value, offset: position - chunk.value.length };
        }
        reader = null;
      }
    },
    cancel: async () => {
      await reader?.cancel();
    },
  };
}

/** Marks `work` handled so a failure while other I/O is awaited is not reported as unhandled; it is awaited later. */
function quietUntilAwaited<T>(work: Promise<T>): Promise<T> {
  work.catch(() => undefined);
  return work;
}

/** Gives the sink the zeros of [from, piece.offset), then the piece's runs of data. */
async function writeAfterGap(sink: Sink, from: number, piece: ReadPiece, runs: readonly number[]): Promise<void> {
  await fillGap(sink, from, piece.offset);
  for (let i = 0; i < runs.length; i += 2) {
    await sink.data(piece.bytes.subarray(runs[i]!, runs[i + 1]!), piece.offset + runs[i]!);
  }
}

async function fillGap(sink: Sink, from: number, to: number): Promise<void> {
  if (to > from && sink.zeros !== undefined) await sink.zeros(from, to - from);
}

const ZEROS = new Uint8Array(PIECE);

/** A sink writing everything, zeros included, to a stream, waiting when the stream asks to. */
function streamSink(stream: NodeJS.WritableStream): Sink {
  return {
    reusesBuffers: false,
    data: (bytes) => writeChunk(stream, bytes),
    async zeros(_offset, length) {
      for (let left = length; left > 0; left -= PIECE)
        await writeChunk(stream, ZEROS.subarray(0, Math.min(PIECE, left)));
    },
  };
}

/** Streams [offset, offset + length) of `disk` to stdout; a reader that goes away (`| head`) ends it quietly. */
export async function copyToStream(
  disk: Disk,
  offset: number,
  length: number,
  io: CliIO,
  label: string,
  via: ReadVia = "reads",
): Promise<number> {
  quietOnClosedPipe(io.stdout);
  const bar = tracker(io, label, length);
  try {
    await copyRange(disk, offset, length, streamSink(io.stdout), bar.update, undefined, via);
  } catch (error) {
    if (isClosedPipe(error)) return EXIT_OK;
    bar.abandon();
    throw error;
  }
  bar.finish();
  return EXIT_OK;
}

// ---------------------------------------------------------------- sparse files

interface FileSink extends Sink {
  readonly path: string;
  /** Bytes actually written (zero grains are skipped). */
  readonly written: number;
  /** Sets the file's length and closes it. */
  finish(size: number): Promise<void>;
  /** Closes the file after a failure (does not remove it). */
  abandon(): Promise<void>;
}

/**
 * A raw file written at the offsets given (less `base`), where zero grains are
 * never written: they stay holes. `overwrite` replaces an existing file,
 * otherwise an existing file is an error. `sync` makes finish() wait for the
 * file to reach stable storage (fdatasync); otherwise it is left to the page
 * cache, as cp and dd leave it.
 */
async function openSparseFile(path: string, overwrite: boolean, base = 0, sync = false): Promise<FileSink> {
  let handle: FileHandle;
  try {
    handle = await open(path, overwrite ? "w" : "wx");
  } catch (cause) {
    throw ioError(`cannot create ${path}`, cause);
  }
  let written = 0;
  const writeAll = async (bytes: Uint8Array, position: number) => {
    for (let done = 0; done < bytes.length; ) {
      const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, position + done);
      done += bytesWritten;
    }
    written += bytes.length;
  };
  return {
    path,
    reusesBuffers: true,
    skipsZeroGrains: true,
    writesInFlight: MAX_WRITES_IN_FLIGHT,
    get written() {
      return written;
    },
    async data(bytes, offset) {
      try {
        await writeAll(bytes, offset - base);
      } catch (cause) {
        throw ioError(`cannot write ${path}`, cause);
      }
    },
    async finish(size) {
      try {
        await handle.truncate(size);
        if (sync) await handle.datasync();
        await handle.close();
      } catch (cause) {
        throw ioError(`cannot write ${path}`, cause);
      }
    },
    abandon: () => handle.close().catch(() => undefined),
  };
}

/** Runs `copy` into `sink`, then sets the file's length; closes the file when anything fails (removing it is writeOutput's). */
async function finishFile(sink: FileSink, size: number, copy: () => Promise<void>): Promise<void> {
  try {
    await copy();
    await sink.finish(size);
  } catch (error) {
    await sink.abandon();
    throw error;
  }
}

export interface FileCopy {
  /** Flush the file to stable storage before it is renamed into place. */
  sync?: boolean;
  /** Replace an existing file (otherwise it is an error). */
  replace: boolean;
  interrupts: Interrupts;
  command: string;
  /** Names the destination in messages: "DST", "-o". */
  label: string;
  done?: (bytes: number) => void;
  /** How a VHDX is read (default: copyRange's own reads). */
  via?: ReadVia;
}

/**
 * Copies [offset, offset + length) of `disk` to a new sparse raw file at
 * `destination`, all or nothing (writeOutput); returns the bytes of data
 * written (zero grains stay holes).
 */
export async function copyToFile(
  disk: Disk,
  offset: number,
  length: number,
  destination: string,
  options: FileCopy,
): Promise<number> {
  const { interrupts } = options;
  return writeOutput(destination, options, async (temporary) => {
    const sink = await openSparseFile(temporary, false, offset, options.sync === true);
    await finishFile(sink, length, () =>
      copyRange(disk, offset, length, sink, options.done, interrupts.signal, options.via),
    );
    return sink.written;
  });
}

/** copyToFile with a progress bar, for cat -o and read -o; on a signal it reports the destination left as it was. */
export async function copyToFileShown(
  io: CliIO,
  disk: Disk,
  offset: number,
  length: number,
  destination: string,
  options: FileCopy,
): Promise<void> {
  await refuseSameFile(destination, disk, options.command, options.label);
  options.interrupts.report(() => `removed the unfinished copy; ${destination} was left as it was`);
  const bar = tracker(io, options.command, length);
  try {
    await copyToFile(disk, offset, length, destination, { ...options, done: bar.update });
  } catch (error) {
    bar.abandon();
    throw error;
  }
  bar.finish();
}

function ioError(what: string, cause: unknown): VhdxError {
  if (VhdxError.isInstance(cause)) return cause;
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new VhdxError("IO_ERROR", `${what}: ${reason}`, { cause });
}
