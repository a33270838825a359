// A source over a file on disk, through node:fs/promises. flush() is
// fdatasync, which is what makes a completed write durable, unless the
// source was opened with `flush: false`. The file is locked from open to
// close (file-lock.ts): exclusively for writing, shared for reading.
import { readSync } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { VhdxError } from "@vhdx/structs";
import { checkOptionKeys } from "../internal/options.js";
import { type RandomAccessSource, checkBuffer, checkPosition, closedError, readOnlyError } from "../sources/source.js";
import { type FileLock, type LockMode, lockFile } from "./file-lock.js";
import { fileOpsAddon } from "./native-file-ops.js";
import { type FileStretch, dataStretches } from "./seek-data.js";

export interface FileSourceOptions {
  /** Open for reading only (the default). */
  readOnly?: boolean;
  /** Create the file, failing if it exists. Implies read-write. */
  create?: boolean;
  /**
   * false: flush() returns at once and nothing is ever fdatasync'd, like
   * qemu's cache=unsafe. Faster, but writes reach the disk only when the
   * operating system gets round to it, in any order: a crash or power cut may
   * lose or corrupt the file. For outputs you can make again. Default true.
   */
  flush?: boolean;
  /**
   * Read-only opens only: read even while another program writes the file
   * (qemu's -U / force-share). What is read may then be inconsistent. The
   * file is still marked as being read, so a writer that refuses readers
   * stays refused. Default false.
   */
  forceShare?: boolean;
  /**
   * Reads of at most this many bytes are made on the calling thread
   * (fs.readSync) instead of Node's thread pool. A 4 KiB read from the page
   * cache then takes about a tenth of the time, but the event loop waits
   * for it, and for the disk when the data is not cached: for a program that
   * does nothing else while it reads (a depth-1 read loop, a command line
   * tool), not for a server. Default 0: every read goes through the pool.
   */
  blockingReadLimit?: number;
}

const OPTION_KEYS = ["readOnly", "create", "flush", "forceShare", "blockingReadLimit"] as const;
const BOOLEAN_KEYS = ["readOnly", "create", "flush", "forceShare"] as const;

export class FileSource implements RandomAccessSource {
  readonly readOnly: boolean;
  private closed = false;

  private constructor(
    readonly name: string,
    private readonly handle: FileHandle,
    private readonly lock: FileLock,
    readOnly: boolean,
    /** Whether flush() calls fdatasync (see FileSourceOptions.flush). */
    readonly flushes: boolean,
    /** See FileSourceOptions.blockingReadLimit. */
    readonly blockingReadLimit: number,
  ) {
    this.readOnly = readOnly;
  }

  /** Opens (or creates) the file and locks it; LOCKED when another program holds it in a way that conflicts. */
  static async open(path: string, options: FileSourceOptions = {}): Promise<FileSource> {
    checkOptions(options);
    const readOnly = options.create ? false : (options.readOnly ?? true);
    const flags = options.create ? "wx+" : readOnly ? "r" : "r+";
    let handle: FileHandle;
    try {
      handle = await open(path, flags);
    } catch (cause) {
      throw ioError(path, options.create ? "create" : "open", cause);
    }
    try {
      const lock = await lockFile(handle, path, lockMode(readOnly, options.forceShare ?? false));
      return new FileSource(path, handle, lock, readOnly, options.flush ?? true, options.blockingReadLimit ?? 0);
    } catch (cause) {
      await handle.close().catch(() => undefined);
      throw VhdxError.isInstance(cause) ? cause : ioError(path, "lock", cause);
    }
  }

  async read(buffer: Uint8Array, position: number): Promise<number> {
    this.checkOpen();
    checkBuffer(buffer, "read");
    checkPosition(position, buffer.length, "read");
    if (buffer.length <= this.blockingReadLimit) return this.readBlocking(buffer, position);
    let done = 0;
    try {
      while (done < buffer.length) {
        const { bytesRead } = await this.handle.read(buffer, done, buffer.length - done, position + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
    } catch (cause) {
      throw ioError(this.name, `read at ${position}`, cause);
    }
    return done;
  }

  private readBlocking(buffer: Uint8Array, position: number): number {
    let done = 0;
    try {
      while (done < buffer.length) {
        const count = readSync(this.handle.fd, buffer, done, buffer.length - done, position + done);
        if (count === 0) break;
        done += count;
      }
    } catch (cause) {
      throw ioError(this.name, `read at ${position}`, cause);
    }
    return done;
  }

  async write(data: Uint8Array, position: number): Promise<void> {
    this.checkWritable("write");
    checkBuffer(data, "write");
    checkPosition(position, data.length, "write");
    let done = 0;
    try {
      while (done < data.length) {
        const { bytesWritten } = await this.handle.write(data, done, data.length - done, position + done);
        done += bytesWritten;
      }
    } catch (cause) {
      throw ioError(this.name, `write at ${position}`, cause);
    }
  }

  async flush(): Promise<void> {
    this.checkWritable("flush");
    if (!this.flushes) return;
    await this.attempt("flush", () => this.handle.datasync());
  }

  /**
   * The stretches of [offset, offset + length) that may hold data, in order:
   * what lies between them is a hole and reads as zeros. From SEEK_DATA and
   * SEEK_HOLE where the platform has them (see seek-data.ts); elsewhere the
   * whole range is one stretch.
   */
  dataStretches(offset: number, length: number): Iterable<FileStretch> {
    this.checkOpen();
    checkPosition(offset, length, "dataStretches");
    return dataStretches(this.handle.fd, offset, length);
  }

  /**
   * Reserves [offset, offset + length) on the file system without writing it
   * (fallocate(2), Linux only), growing the file if the range ends past it.
   * False where it cannot: another platform, the addon not built, or a file
   * system without fallocate; the caller writes zeros instead.
   */
  async allocate(offset: number, length: number): Promise<boolean> {
    this.checkWritable("allocate");
    checkPosition(offset, length, "allocate");
    const allocate = fileOpsAddon()?.allocate;
    if (allocate === undefined || length === 0) return false;
    return this.attempt("allocate", async () => allocate(this.handle.fd, offset, length));
  }

  async size(): Promise<number> {
    this.checkOpen();
    return this.attempt("stat", async () => (await this.handle.stat()).size);
  }

  async truncate(length: number): Promise<void> {
    this.checkWritable("truncate");
    checkPosition(length, 0, "truncate");
    await this.attempt("truncate", () => this.handle.truncate(length));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Closing the descriptor lets go of the lock too; saying so first costs nothing.
    try {
      this.lock.release();
    } catch {
      // The close below releases it all the same.
    }
    await this.attempt("close", () => this.handle.close());
  }

  private async attempt<T>(operation: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (cause) {
      throw ioError(this.name, operation, cause);
    }
  }

  private checkOpen(): void {
    if (this.closed) throw closedError(this.name);
  }

  private checkWritable(operation: string): void {
    this.checkOpen();
    if (this.readOnly) throw readOnlyError(this.name, operation);
  }
}

function checkOptions(options: FileSourceOptions): void {
  if (typeof options !== "object" || options === null)
    throw new TypeError("FileSource.open: options must be an object");
  checkOptionKeys("FileSource.open", options, OPTION_KEYS);
  for (const key of BOOLEAN_KEYS) {
    if (options[key] !== undefined && typeof options[key] !== "boolean")
      throw new TypeError(`FileSource.open: ${key} must be a boolean`);
  }
  const limit = options.blockingReadLimit;
  if (limit !== undefined && !(Number.isSafeInteger(limit) && limit >= 0))
    throw new TypeError("FileSource.open: blockingReadLimit must be a whole number of bytes, 0 or more");
  if (options.forceShare === true && (options.create === true || options.readOnly === false)) {
    throw new VhdxError(
      "INVALID_ARGUMENT",
      "FileSource.open: forceShare is only for read-only opens; a writer never shares a file another program writes",
    );
  }
}

function lockMode(readOnly: boolean, forceShare: boolean): LockMode {
  if (!readOnly) return "write";
  return forceShare ? "force-share" : "read";
}

function ioError(path: string, operation: string, cause: unknown): VhdxError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new VhdxError("IO_ERROR", `cannot ${operation} ${path}: ${reason}`, { cause, file: path });
}
