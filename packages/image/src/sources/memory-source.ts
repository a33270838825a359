// A source over a Uint8Array that grows as it is written: tests, generated
// images, and anything small enough to hold in memory.
import { type RandomAccessSource, checkBuffer, checkPosition, closedError, readOnlyError } from "./source.js";

export interface MemorySourceOptions {
  readOnly?: boolean;
  name?: string;
}

export class MemorySource implements RandomAccessSource {
  readonly name: string;
  readonly readOnly: boolean;
  private storage: Uint8Array;
  private length: number;
  private closed = false;

  /** Wraps `initial` without copying it; writes may later move to a larger buffer. */
  constructor(initial: Uint8Array = new Uint8Array(0), options: MemorySourceOptions = {}) {
    checkBuffer(initial, "MemorySource");
    this.storage = initial;
    this.length = initial.length;
    this.readOnly = options.readOnly ?? false;
    this.name = options.name ?? "memory";
  }

  /** The current contents (a view of the internal buffer, valid until the next write). */
  bytes(): Uint8Array {
    return this.storage.subarray(0, this.length);
  }

  async read(buffer: Uint8Array, position: number): Promise<number> {
    this.checkOpen();
    checkBuffer(buffer, "read");
    checkPosition(position, buffer.length, "read");
    if (position >= this.length) return 0;
    const count = Math.min(buffer.length, this.length - position);
    buffer.set(this.storage.subarray(position, position + count));
    return count;
  }

  async write(data: Uint8Array, position: number): Promise<void> {
    this.checkWritable("write");
    checkBuffer(data, "write");
    checkPosition(position, data.length, "write");
    const end = position + data.length;
    if (end > this.length) this.resize(end);
    this.storage.set(data, position);
  }

  async flush(): Promise<void> {
    this.checkWritable("flush");
  }

  async size(): Promise<number> {
    this.checkOpen();
    return this.length;
  }

  async truncate(length: number): Promise<void> {
    this.checkWritable("truncate");
    checkPosition(length, 0, "truncate");
    this.resize(length);
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private resize(length: number): void {
    if (length > this.storage.length) {
      // Grow by half again at least, so a long run of appends copies O(n) bytes in all.
      const grown = new Uint8Array(Math.max(length, Math.floor(this.storage.length * 1.5)));
      grown.set(this.storage.subarray(0, this.length));
      this.storage = grown;
    } else if (length < this.length) {
      this.storage.fill(0, length, this.length);
    }
    this.length = length;
  }

  private checkOpen(): void {
    if (this.closed) throw closedError(this.name);
  }

  private checkWritable(operation: string): void {
    this.checkOpen();
    if (this.readOnly) throw readOnlyError(this.name, operation);
  }
}
