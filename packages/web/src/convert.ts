// The page's side of a raw -> dynamic VHDX conversion: starts the worker
// (convert-worker.ts), relays progress and cancel, and returns the result as
// a Blob (a file in the origin's private storage, or bytes made in memory).
import { errorText } from "./dom.js";
import { type FromWorker, OUTPUT_PREFIX, type ToWorker } from "./convert-protocol.js";
import type { Task } from "./task.js";

export interface Converted {
  name: string;
  blob: Blob;
  /** Bytes of the raw file that were not zeros, and so were written. */
  dataBytes: number;
  /** Where the worker built it: a file of the origin's private storage, or memory. */
  storage: "private-file" | "memory";
}

export async function convertRawToVhdx(file: File, task: Task): Promise<Converted> {
  await removeEarlierOutputs();
  const name = `${file.name.replace(/\.(raw|img|bin|iso)$/i, "")}.vhdx`;
  const worker = new Worker(new URL("./convert-worker.ts", import.meta.url), { type: "module" });
  try {
    const done = await new Promise<Extract<FromWorker, { type: "done" }>>((resolve, reject) => {
      task.signal.addEventListener("abort", () => worker.postMessage({ type: "cancel" } satisfies ToWorker));
      worker.addEventListener("error", (event) => reject(new Error(event.message || "the conversion worker failed")));
      worker.addEventListener("message", (event: MessageEvent<FromWorker>) => {
        const message = event.data;
        if (message.type === "progress") task.update(message.done, message.total);
        else if (message.type === "done") resolve(message);
        else if (message.type === "cancelled") reject(new DOMException("cancelled", "AbortError"));
        else reject(new Error(message.message));
      });
      const outputName = `${OUTPUT_PREFIX}${Date.now()}-${name}`;
      worker.postMessage({ type: "start", file, outputName } satisfies ToWorker);
    });
    const blob =
      done.opfsName !== undefined
        ? await (await (await navigator.storage.getDirectory()).getFileHandle(done.opfsName)).getFile()
        : new Blob([done.bytes as Uint8Array<ArrayBuffer>]);
    return { name, blob, dataBytes: done.dataBytes, storage: done.opfsName !== undefined ? "private-file" : "memory" };
  } finally {
    worker.terminate();
  }
}

/** Earlier results in the origin's private storage: one conversion's output is kept at a time. */
async function removeEarlierOutputs(): Promise<void> {
  try {
    const directory = await navigator.storage.getDirectory();
    const names: string[] = [];
    for await (const name of (directory as unknown as { keys(): AsyncIterable<string> }).keys()) {
      if (name.startsWith(OUTPUT_PREFIX)) names.push(name);
    }
    await Promise.all(names.map((name) => directory.removeEntry(name)));
  } catch (error) {
    console.warn(`could not remove earlier conversions: ${errorText(error)}`);
  }
}
