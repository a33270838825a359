// The one I/O interface of @vhdx/image: random access to bytes, async, with
// the durability of a disk with a write cache (a write is durable after
// flush()). Every image operation goes through it, so an image can live in
// memory, in a file, in a browser Blob or behind an HTTP server.
import { VhdxError } from "@vhdx/structs";

export interface RandomAccessSource {
  /** A name for messages: a path, a URL, "memory". */
  readonly name: string;
  /** True when write, truncate and flush are refused. */
  readonly readOnly: boolean;
  /**
   * Reads up to `buffer.length` bytes at `position` into `buffer` and returns
   * how many were read: fewer only at the end of the source.
   */
  read(buffer: Uint8Array, position: number): Promise<number>;
  /** Writes all of `data` at `position`, growing the source if needed. */
  write(data: Uint8Array, position: number): Promise<void>;
  /** Makes every completed write durable. */
  flush(): Promise<void>;
  /** The current length in bytes. */
  size(): Promise<number>;
  /** Sets the length, cutting or zero-extending. */
  truncate(length: number): Promise<void>;
  /** Releases the source; further calls fail with CLOSED. */
  close(): Promise<void>;
}

/**
 * Fills `buffer` from `position`, or throws TRUNCATED naming `structure` when
 * the source ends first.
 */
export async function readExactly(
  source: RandomAccessSource,
  buffer: Uint8Array,
  position: number,
  structure: string,
): Promise<Uint8Array> {
  let done = 0;
  while (done < buffer.length) {
    const count = await source.read(buffer.subarray(done), position + done);
    if (count <= 0) {
      throw new VhdxError(
        "TRUNCATED",
        `needs ${buffer.length} bytes but ${source.name} ends at 0x${(position + done).toString(16)}`,
        { structure, offset: position },
      );
    }
    done += count;
  }
  return buffer;
}

/** Reads `length` bytes at `position` into a new array, or throws TRUNCATED. */
export function readBytes(source: RandomAccessSource, position: number, length: number, structure: string) {
  return readExactly(source, new Uint8Array(length), position, structure);
}

export function readOnlyError(name: string, operation: string): VhdxError {
  return new VhdxError("READ_ONLY", `cannot ${operation}: ${name} is open read-only`);
}

export function closedError(name: string): VhdxError {
  return new VhdxError("CLOSED", `${name} is closed`);
}

/** Checks a position/length pair from a caller; a programming error is a TypeError or RangeError. */
export function checkPosition(position: number, length: number, operation: string): void {
  if (!Number.isSafeInteger(position) || position < 0) {
    throw new RangeError(`${operation}: position must be a non-negative safe integer, got ${position}`);
  }
  if (!Number.isSafeInteger(position + length)) {
    throw new RangeError(`${operation}: position + length passes 2^53`);
  }
}

export function checkBuffer(buffer: Uint8Array, operation: string): void {
  if (!(buffer instanceof Uint8Array)) throw new TypeError(`${operation}: expected a Uint8Array`);
}
