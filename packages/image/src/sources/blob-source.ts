// A read-only source over a Blob or a browser File (drag and drop, <input
// type=file>). Node 20 has Blob too, so the same code is tested there.
import { type RandomAccessSource, checkBuffer, checkPosition, closedError, readOnlyError } from "./source.js";

export class BlobSource implements RandomAccessSource {
  readonly name: string;
  readonly readOnly = true;
  private closed = false;

  constructor(private readonly blob: Blob, name?: string) {
    if (typeof Blob === "undefined" || !(blob instanceof Blob)) throw new TypeError("BlobSource: expected a Blob or File");
    this.name = name ?? ((blob as { name?: unknown }).name as string | undefined) ?? "blob";
  }

  async read(buffer: Uint8Array, position: number): Promise<number> {
    if (this.closed) throw closedError(this.name);
    checkBuffer(buffer, "read");
    checkPosition(position, buffer.length, "read");
    if (position >= this.blob.size) return 0;
    const end = Math.min(this.blob.size, position + buffer.length);
    const bytes = new Uint8Array(await this.blob.slice(position, end).arrayBuffer());
    buffer.set(bytes);
    return bytes.length;
  }

  async size(): Promise<number> {
    if (this.closed) throw closedError(this.name);
    return this.blob.size;
  }

  async write(): Promise<void> {
    throw readOnlyError(this.name, "write");
  }

  async flush(): Promise<void> {
    throw readOnlyError(this.name, "flush");
  }

  async truncate(): Promise<void> {
    throw readOnlyError(this.name, "truncate");
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
