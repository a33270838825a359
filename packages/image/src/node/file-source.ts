// A source over a file on disk, through node:fs/promises. flush() is
// fdatasync, which is what makes a completed write durable, unless the
// source was opened with `flush: false`.
import { type FileHandle, open } from "node:fs/promises";
import { VhdxError } from "@vhdx/structs";
import {
  type RandomAccessSource,
  checkBuffer,
  checkPosition,
  closedError,
  readOnlyError,
} from "../sources/source.js";

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
}

export class FileSource implements RandomAccessSource {
  readonly readOnly: boolean;
  private closed = false;

  private constructor(
    readonly name: string,
    private readonly handle: FileHandle,
    readOnly: boolean,
    /** Whether flush() calls fdatasync (see FileSourceOptions.flush). */
    readonly flushes: boolean,
  ) {
    this.readOnly = readOnly;
  }

  static async open(path: string, options: FileSourceOptions = {}): Promise<FileSource> {
    if (options.flush !== undefined && typeof options.flush !== "boolean") throw new TypeError("FileSource.open: flush must be a boolean");
    const readOnly = options.create ? false : (options.readOnly ?? true);
    const flags = options.create ? "wx+" : readOnly ? "r" : "r+";
    try {
      return new FileSource(path, await open(path, flags), readOnly, options.flush ?? true);
    } catch (cause) {
      throw ioError(path, options.create ? "create" : "open", cause);
    }
  }

  async read(buffer: Uint8Array, position: number): Promise<number> {
    this.checkOpen();
    checkBuffer(buffer, "read");
    checkPosition(position, buffer.length, "read");
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

function ioError(path: string, operation: string, cause: unknown): VhdxError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new VhdxError("IO_ERROR", `cannot ${operation} ${path}: ${reason}`, { cause });
}
