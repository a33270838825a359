// image.stream(): a range of the virtual disk as a web ReadableStream, for
// browsers and Node alike. It pulls: a chunk is read only when the queue holds
// less than highWaterMark bytes, so a slow consumer holds the reads back and
// memory stays bounded. Chunks end at multiples of chunkSize (blocks and
// chunk sizes are powers of two, so a chunk never spans two blocks unless it
// holds whole ones) and go through the image's ordinary read path.
import { MiB, VhdxError } from "@vhdx/structs";
import { checkOptionKeys } from "../internal/options.js";
import { MAX_PAYLOAD_READ } from "./payload-reads.js";

export interface StreamOptions {
  /**
   * The largest chunk in bytes, from 1 byte to 256 MiB (default 8 MiB, the
   * largest single read of the image: one HTTP request per chunk at most).
   */
  chunkSize?: number;
  /** Bytes read ahead of the consumer at most, besides the chunk being read (default 8 MiB). */
  highWaterMark?: number;
  /**
   * Makes the buffer of each chunk, which the stream then fills whole (default
   * `new Uint8Array(size)`). Node's `Buffer.allocUnsafe` saves zeroing it.
   */
  allocate?: (size: number) => Uint8Array;
}

/** What the stream needs of an image. */
export interface StreamedImage {
  readInto(buffer: Uint8Array, offset: number): Promise<void>;
}

const STREAM_OPTION_KEYS = [
  "chunkSize",
  "highWaterMark",
  "allocate",
] as const satisfies readonly (keyof StreamOptions)[];
const DEFAULT_CHUNK_SIZE = MAX_PAYLOAD_READ;
const DEFAULT_HIGH_WATER_MARK = MAX_PAYLOAD_READ;
const LARGEST_CHUNK_SIZE = 256 * MiB;

/**
 * [offset, offset + length) of `image` as a stream of chunks. `checkRange`
 * throws for a range the image refuses (OUT_OF_RANGE, CLOSED): the stream
 * then starts errored with it, as it errors with any failed read.
 */
export function diskStream(
  image: StreamedImage,
  offset: number,
  length: number,
  options: StreamOptions,
  checkRange: () => void,
): ReadableStream<Uint8Array> {
  const { chunkSize, highWaterMark, allocate } = streamOptions(options);
  const end = offset + length;
  let position = offset;
  let cancelled = false;
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        try {
          checkRange();
        } catch (error) {
          controller.error(error);
        }
      },
      async pull(controller) {
        if (position >= end) return controller.close();
        const size = Math.min(end, (Math.floor(position / chunkSize) + 1) * chunkSize) - position;
        const chunk = allocate(size);
        if (!(chunk instanceof Uint8Array) || chunk.length !== size)
          throw new TypeError(`stream: allocate(${size}) must return a Uint8Array of that length`);
        await image.readInto(chunk, position);
        if (cancelled) return;
        position += chunk.length;
        controller.enqueue(chunk);
        if (position >= end) controller.close();
      },
      cancel() {
        cancelled = true;
      },
    },
    new ByteLengthQueuingStrategy({ highWaterMark }),
  );
}

const newChunk = (size: number) => new Uint8Array(size);

function streamOptions(options: StreamOptions): Required<StreamOptions> {
  if (typeof options !== "object" || options === null) throw new TypeError("stream: options must be an object");
  checkOptionKeys("stream", options, STREAM_OPTION_KEYS);
  const { chunkSize = DEFAULT_CHUNK_SIZE, highWaterMark = DEFAULT_HIGH_WATER_MARK, allocate = newChunk } = options;
  if (typeof chunkSize !== "number" || typeof highWaterMark !== "number")
    throw new TypeError("stream: chunkSize and highWaterMark must be numbers");
  if (typeof allocate !== "function") throw new TypeError("stream: allocate must be a function");
  if (!Number.isSafeInteger(chunkSize) || chunkSize < 1 || chunkSize > LARGEST_CHUNK_SIZE)
    throw new VhdxError("INVALID_ARGUMENT", `stream: chunkSize must be an integer from 1 to ${LARGEST_CHUNK_SIZE}`);
  if (!Number.isSafeInteger(highWaterMark) || highWaterMark < 0)
    throw new VhdxError("INVALID_ARGUMENT", "stream: highWaterMark must be a non-negative integer");
  return { chunkSize, highWaterMark, allocate };
}
