// What every read-only source (a Blob, an HTTP server, a log replayed in
// memory) answers to the writing half of RandomAccessSource: READ_ONLY.
import { type RandomAccessSource, readOnlyError } from "./source.js";

export abstract class ReadOnlySource implements RandomAccessSource {
  abstract readonly name: string;
  readonly readOnly = true;

  abstract read(buffer: Uint8Array, position: number): Promise<number>;
  abstract size(): Promise<number>;
  abstract close(): Promise<void>;

  async write(): Promise<void> {
    throw readOnlyError(this.name, "write");
  }

  async flush(): Promise<void> {
    throw readOnlyError(this.name, "flush");
  }

  async truncate(): Promise<void> {
    throw readOnlyError(this.name, "truncate");
  }
}
