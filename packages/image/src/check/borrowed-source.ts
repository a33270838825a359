// A caller's source lent to openImage: everything passes through but close(),
// so closing the image a check or a repair opened leaves the source open for
// its owner.
import type { RandomAccessSource } from "../sources/source.js";

export class BorrowedSource implements RandomAccessSource {
  constructor(private readonly source: RandomAccessSource) {}

  get name(): string {
    return this.source.name;
  }

  get readOnly(): boolean {
    return this.source.readOnly;
  }

  read(buffer: Uint8Array, position: number): Promise<number> {
    return this.source.read(buffer, position);
  }

  write(data: Uint8Array, position: number): Promise<void> {
    return this.source.write(data, position);
  }

  flush(): Promise<void> {
    return this.source.flush();
  }

  size(): Promise<number> {
    return this.source.size();
  }

  truncate(length: number): Promise<void> {
    return this.source.truncate(length);
  }

  async close(): Promise<void> {}
}
