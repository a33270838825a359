// A read-write RandomAccessSource over a file in the Origin Private File
// System, through a FileSystemSyncAccessHandle (dedicated workers only). The
// handle's calls are synchronous and map one to one onto the interface; a
// file made this way is on disk, so a VHDX larger than memory can be built.
import { type RandomAccessSource, VhdxError } from "@vhdx/image";

/** The part of FileSystemSyncAccessHandle used here (its type is in TypeScript's worker library only). */
export interface SyncAccessHandle {
  read(buffer: Uint8Array, options: { at: number }): number;
  write(buffer: Uint8Array, options: { at: number }): number;
  truncate(size: number): void;
  getSize(): number;
  flush(): void;
  close(): void;
}

export class OpfsSource implements RandomAccessSource {
  readonly readOnly = false;
  private closed = false;

  constructor(
    private readonly handle: SyncAccessHandle,
    readonly name: string,
  ) {}

  async read(buffer: Uint8Array, position: number): Promise<number> {
    this.checkOpen();
    return this.handle.read(buffer, { at: position });
  }

  async write(data: Uint8Array, position: number): Promise<void> {
    this.checkOpen();
    for (let done = 0; done < data.length; ) {
      const written = this.handle.write(data.subarray(done), { at: position + done });
      if (written <= 0) {
        throw new VhdxError(
          "IO_ERROR",
          `${this.name}: wrote nothing at ${position + done} (is the storage quota used up?)`,
        );
      }
      done += written;
    }
  }

  async flush(): Promise<void> {
    this.checkOpen();
    this.handle.flush();
  }

  async size(): Promise<number> {
    this.checkOpen();
    return this.handle.getSize();
  }

  async truncate(length: number): Promise<void> {
    this.checkOpen();
    this.handle.truncate(length);
  }

  /** Closes the handle; a second close does nothing. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.handle.close();
  }

  private checkOpen(): void {
    if (this.closed) throw new VhdxError("CLOSED", `${this.name} is closed`);
  }
}
