// Buffers for READ replies, reused once the stream has sent them. Without
// reuse every request allocates its buffer outside the JavaScript heap, and
// the garbage collector lets tens of MiB of finished ones pile up before it
// frees them; with it, memory stays flat and buffers are zeroed only once.
// Sizes go by powers of two from 4 KiB; at most `maxPooledBytes` are kept.

const SMALLEST = 4096;

function sizeClass(length: number): number {
  return length <= SMALLEST ? SMALLEST : 2 ** Math.ceil(Math.log2(length));
}

export class BufferPool {
  private readonly free = new Map<number, ArrayBuffer[]>();
  private pooledBytes = 0;

  constructor(private readonly maxPooledBytes: number) {}

  /** A buffer of `length` bytes, with old contents (the caller fills it whole). */
  take(length: number): Uint8Array {
    const size = sizeClass(length);
    const buffer = this.free.get(size)?.pop();
    if (buffer === undefined) return new Uint8Array(new ArrayBuffer(size), 0, length);
    this.pooledBytes -= size;
    return new Uint8Array(buffer, 0, length);
  }

  /** Gives back a buffer from take() that nothing uses any more. */
  give(bytes: Uint8Array): void {
    const buffer = bytes.buffer as ArrayBuffer;
    const size = buffer.byteLength;
    if (size !== sizeClass(size) || this.pooledBytes + size > this.maxPooledBytes) return;
    const list = this.free.get(size);
    if (list === undefined) this.free.set(size, [buffer]);
    else list.push(buffer);
    this.pooledBytes += size;
  }
}
