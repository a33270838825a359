// A view of a source that ignores close(): resize closes its image, and the
// workload reopens the same fault-injecting "disk" to go on writing.
import type { RandomAccessSource } from "@vhdx/image";

export class KeepOpenSource implements RandomAccessSource {
  readonly name: string;
  readonly readOnly: boolean;

  constructor(private readonly inner: RandomAccessSource) {
    this.name = inner.name;
    this.readOnly = inner.readOnly;
  }

  read(buffer: Uint8Array, position: number): Promise<number> {
    return this.inner.read(buffer, position);
  }

  write(data: Uint8Array, position: number): Promise<void> {
    return this.inner.write(data, position);
  }

  flush(): Promise<void> {
    return this.inner.flush();
  }

  size(): Promise<number> {
    return this.inner.size();
  }

  truncate(length: number): Promise<void> {
    return this.inner.truncate(length);
  }

  async close(): Promise<void> {}
}
