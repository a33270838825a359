// The dedicated worker that turns a raw disk file into a dynamic VHDX: the
// image is made with createImage in a file of the origin's private storage
// (OpfsSource), or in memory for small inputs where that storage is missing;
// the raw file is copied in a MiB at a time, all-zero pieces skipped so the
// result is sparse (1 MiB blocks for disks up to 256 GiB). Cancel removes the
// partial output.
import { MemorySource, type RandomAccessSource, createImage } from "@vhdx/image";
import { errorText } from "./dom.js";
import type { FromWorker, ToWorker } from "./convert-protocol.js";
import { OpfsSource, type SyncAccessHandle } from "./opfs-source.js";

const PIECE = 1024 * 1024;
const SECTOR = 512;
/** The largest raw input converted in memory, where the origin's private storage is missing. */
const LARGEST_IN_MEMORY = 512 * 1024 * 1024;
const PROGRESS_INTERVAL_MS = 100;
const MAX_BLOCK = 32 * 1024 * 1024;
const BLOCKS_WANTED = 256 * 1024;

let cancelled = false;

const post = (message: FromWorker, transfer: Transferable[] = []) => self.postMessage(message, { transfer });

self.addEventListener("message", (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  if (message.type === "cancel") cancelled = true;
  else
    convert(message.file, message.outputName).catch((error: unknown) =>
      post(cancelled ? { type: "cancelled" } : { type: "error", message: errorText(error) }),
    );
});

interface Target {
  source: RandomAccessSource;
  /** Called when the conversion fails or is cancelled: deletes the partial output. */
  discard(): Promise<void>;
  /** The message that hands the finished output over. */
  result(dataBytes: number): Promise<FromWorker>;
}

async function convert(file: File, outputName: string): Promise<void> {
  if (file.size === 0) throw new Error(`${file.name} is empty: there is no disk to convert`);
  const size = Math.ceil(file.size / SECTOR) * SECTOR;
  const target = await openTarget(file, outputName);
  try {
    const image = await createImage(target.source, { size, blockSize: blockSizeFor(size), creator: "@vhdx/web" });
    const dataBytes = await copyRaw(file, (offset, bytes) => image.write(offset, bytes));
    await image.close();
    await target.source.close();
    const result = await target.result(dataBytes);
    post(result, result.type === "done" && result.bytes ? [result.bytes.buffer] : []);
  } catch (error) {
    await target.discard();
    throw error;
  }
}

/**
 * Small blocks keep the output sparse (a block is allocated whole); larger
 * ones keep the BAT of a big disk small. 1 MiB up to 256 GiB, then doubling,
 * at most 32 MiB (the size Hyper-V uses) from 8 TiB.
 */
function blockSizeFor(size: number): number {
  let blockSize = PIECE;
  while (blockSize < MAX_BLOCK && size / blockSize > BLOCKS_WANTED) blockSize *= 2;
  return blockSize;
}

/** Copies the non-zero pieces of `file` through `write`; returns the bytes written. */
async function copyRaw(file: File, write: (offset: number, bytes: Uint8Array) => Promise<void>): Promise<number> {
  let written = 0;
  let reported = 0;
  for (let offset = 0; offset < file.size; offset += PIECE) {
    if (cancelled) throw new DOMException("cancelled", "AbortError");
    const bytes = new Uint8Array(await file.slice(offset, offset + PIECE).arrayBuffer());
    if (!isAllZero(bytes)) {
      await write(offset, padToSector(bytes));
      written += bytes.length;
    }
    if (performance.now() - reported > PROGRESS_INTERVAL_MS) {
      reported = performance.now();
      post({ type: "progress", done: offset + bytes.length, total: file.size });
    }
  }
  post({ type: "progress", done: file.size, total: file.size });
  return written;
}

function isAllZero(bytes: Uint8Array): boolean {
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >>> 2);
  for (let i = 0; i < words.length; i++) if (words[i] !== 0) return false;
  for (let i = words.length * 4; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

/** The last piece of a file whose size is not a whole number of sectors, padded with zeros. */
function padToSector(bytes: Uint8Array): Uint8Array {
  if (bytes.length % SECTOR === 0) return bytes;
  const padded = new Uint8Array(Math.ceil(bytes.length / SECTOR) * SECTOR);
  padded.set(bytes);
  return padded;
}

async function openTarget(file: File, outputName: string): Promise<Target> {
  const directory = await privateDirectory();
  if (directory !== null) {
    const handle = await directory.getFileHandle(outputName, { create: true });
    const access = await (
      handle as unknown as { createSyncAccessHandle(): Promise<SyncAccessHandle> }
    ).createSyncAccessHandle();
    const source = new OpfsSource(access, outputName);
    return {
      source,
      async discard() {
        await source.close();
        await directory.removeEntry(outputName).catch(() => undefined);
      },
      async result(dataBytes) {
        const { size } = await handle.getFile();
        return { type: "done", size, dataBytes, opfsName: outputName };
      },
    };
  }
  if (file.size > LARGEST_IN_MEMORY) {
    throw new Error(
      `this browser has no private file storage for workers, and ${file.name} is over the ${LARGEST_IN_MEMORY >> 20} MiB ` +
        "that can be converted in memory; use a Chromium-based browser, or `vhdx convert`",
    );
  }
  const source = new MemorySource(new Uint8Array(0), { name: outputName });
  return {
    source,
    discard: async () => undefined,
    async result(dataBytes) {
      const bytes = source.bytes().slice();
      return { type: "done", size: bytes.length, dataBytes, bytes };
    },
  };
}

/** The origin's private directory when sync access handles work here, else null. */
async function privateDirectory(): Promise<FileSystemDirectoryHandle | null> {
  if (typeof navigator.storage?.getDirectory !== "function") return null;
  if (typeof FileSystemFileHandle === "undefined" || !("createSyncAccessHandle" in FileSystemFileHandle.prototype))
    return null;
  try {
    return await navigator.storage.getDirectory();
  } catch {
    return null;
  }
}
