// The messages between the page and the worker that turns a raw file into a
// dynamic VHDX (convert-worker.ts).

/** Files the worker makes in the origin's private storage are named with this prefix. */
export const OUTPUT_PREFIX = "converted-";

export type ToWorker = { type: "start"; file: File; outputName: string } | { type: "cancel" };

export type FromWorker =
  | { type: "progress"; done: number; total: number }
  /** `opfsName`: the result is that file in the origin's private storage; otherwise `bytes` hold it. */
  | { type: "done"; size: number; dataBytes: number; opfsName?: string; bytes?: Uint8Array }
  | { type: "cancelled" }
  | { type: "error"; message: string };
