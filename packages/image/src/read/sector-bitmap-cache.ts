// Sector bitmap blocks (MS-VHDX 2.5.3) are 1 MiB each, one per 4 GiB chunk of
// a 512-byte-sector disk: a few are kept, and the ones a writer has changed
// stay until they are flushed, whatever the limit says.
const UNPINNED_LIMIT = 16;
const BITMAP_BYTES = 1 << 20;

export class SectorBitmapCache {
  private readonly entries = new Map<number, Promise<Uint8Array>>();
  private readonly pinnedChunks = new Set<number>();

  constructor(private readonly load: (chunk: number) => Promise<Uint8Array>) {}

  /** The chunk's bitmap, loaded once. */
  get(chunk: number): Promise<Uint8Array> {
    let entry = this.entries.get(chunk);
    if (entry === undefined) {
      entry = this.load(chunk);
      this.entries.set(chunk, entry);
      entry.catch(() => this.entries.delete(chunk));
      this.evict();
    }
    return entry;
  }

  /** The chunk's bitmap, kept until unpinAll(): a writer changes it in place. */
  pinned(chunk: number): Promise<Uint8Array> {
    this.pinnedChunks.add(chunk);
    return this.get(chunk);
  }

  /** A new, all-zero bitmap for a chunk whose bitmap block was just allocated; pinned. */
  fresh(chunk: number): Uint8Array {
    const bitmap = new Uint8Array(BITMAP_BYTES);
    this.entries.set(chunk, Promise.resolve(bitmap));
    this.pinnedChunks.add(chunk);
    return bitmap;
  }

  /** After a flush every change is in the file; any bitmap may be dropped again. */
  unpinAll(): void {
    this.pinnedChunks.clear();
    this.evict();
  }

  private evict(): void {
    for (const chunk of this.entries.keys()) {
      if (this.entries.size - this.pinnedChunks.size <= UNPINNED_LIMIT) return;
      if (!this.pinnedChunks.has(chunk)) this.entries.delete(chunk);
    }
  }
}
