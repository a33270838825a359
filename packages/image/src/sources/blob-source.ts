// A read-only source over a Blob or a browser File (drag and drop, <input
// type=file>). Node 20 has Blob too, so the same code is tested there.
import { checkBuffer, checkPosition, closedError } from "./source.js";
import { ReadOnlySource } from "./read-only-source.js";

export class BlobSource extends ReadOnlySource {
  readonly name: string;
  private closed = false;

  constructor(
    private readonly blob: Blob,
    name?: string,
  ) {
    super();
    if (typeof Blob === "undefined" || !(blob instanceof Blob))
      throw new TypeError("BlobSource: expected a Blob or File");
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

  async close(): Promise<void> {
    this.closed = true;
  }
}
