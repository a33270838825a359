// Saving bytes the page made (a virtual disk as raw, a converted VHDX) to a
// file of the person's choosing: streamed through the File System Access API
// where the browser has it, else a Blob download when it fits in memory.
import { formatSize } from "./format.js";
import type { Task } from "./task.js";

/** The largest output held in memory for a download where nothing can stream to disk. */
const LARGEST_DOWNLOAD = 2 * 1024 ** 3;

export interface Output {
  name: string;
  size: number;
  /** The bytes, read when saving starts. */
  open(): ReadableStream<Uint8Array>;
  /** The bytes as a Blob already (a file in the origin's private storage): downloaded without a copy. */
  blob?: Blob;
}

interface SaveFilePicker {
  showSaveFilePicker?: (options: { suggestedName: string }) => Promise<FileSystemFileHandle>;
}

type WritableFile = FileSystemFileHandle & { createWritable(): Promise<FileSystemWritableFileStream> };

/**
 * Saves `output`, reporting progress on `task`; returns what was done. Call it
 * straight from a click: the save picker needs the person's gesture.
 */
export async function saveOutput(output: Output, task: Task): Promise<string> {
  const picker = (window as SaveFilePicker).showSaveFilePicker;
  if (typeof picker === "function") {
    const handle = (await picker.call(window, { suggestedName: output.name })) as WritableFile;
    await streamToFile(output, await handle.createWritable(), task);
    return `Saved ${formatSize(output.size)} as ${handle.name}.`;
  }
  if (output.blob !== undefined) {
    download(output.blob, output.name);
    return `Downloading ${output.name} (${formatSize(output.size)}).`;
  }
  if (output.size > LARGEST_DOWNLOAD) {
    throw new Error(
      `this browser cannot write a file as it goes (no File System Access API), and a download of ${formatSize(output.size)} ` +
        `would have to be held in memory (at most ${formatSize(LARGEST_DOWNLOAD)}). Use a Chromium-based browser, or \`vhdx convert\`.`,
    );
  }
  download(new Blob(await collect(output, task)), output.name);
  return `Downloading ${output.name} (${formatSize(output.size)}).`;
}

/** Copies the stream into the file; on cancel or error the file is left as it was (abort discards what was written). */
async function streamToFile(output: Output, writable: FileSystemWritableFileStream, task: Task): Promise<void> {
  const reader = output.open().getReader();
  let done = 0;
  try {
    for (;;) {
      task.signal.throwIfAborted();
      const chunk = await reader.read();
      if (chunk.done) break;
      await writable.write(chunk.value as Uint8Array<ArrayBuffer>);
      done += chunk.value.length;
      task.update(done, output.size);
    }
    await writable.close();
  } catch (error) {
    await Promise.allSettled([reader.cancel(), writable.abort()]);
    throw error;
  }
}

async function collect(output: Output, task: Task): Promise<Uint8Array<ArrayBuffer>[]> {
  const reader = output.open().getReader();
  const chunks: Uint8Array<ArrayBuffer>[] = [];
  let done = 0;
  try {
    for (;;) {
      task.signal.throwIfAborted();
      const chunk = await reader.read();
      if (chunk.done) return chunks;
      chunks.push(chunk.value as Uint8Array<ArrayBuffer>);
      done += chunk.value.length;
      task.update(done, output.size);
    }
  } catch (error) {
    await reader.cancel().catch(() => undefined);
    throw error;
  }
}

function download(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  // The download has its own reference by now; let the page's go after a while.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
