// The code the browser tests run inside Chromium, in a window or in a module
// worker. It is bundled with the @vhdx packages' dist into /app.js and offers
// its functions as `globalThis.probe`; in a worker it answers
// { id, name, args } messages with the same functions. Everything goes in and
// out as plain data (strings, numbers, arrays, Blobs), which page.evaluate
// and postMessage carry; `attempt` turns a failure into { code, message }.
import { crc32c } from "@vhdx/crc32c";
import {
  BlobSource,
  HttpSource,
  MemorySource,
  type RandomAccessSource,
  type VhdxImage,
  createImage,
  openChains,
  openImage,
} from "@vhdx/image";
import { type PatternWrite, patternBytes } from "./pattern.js";
import { type StructureReport, roundTripStructures } from "./structures.js";

export interface DiskDigest {
  diskType: string;
  virtualSize: number;
  sha256: string;
  /** DataWriteGuids of the chain, the opened image first. */
  chain: string[];
}

export type Attempt<T> = { ok: true; value: T } | { ok: false; code: string | undefined; message: string };

export interface KernelReport {
  /** WebAssembly modules compiled and refused since the page loaded (counted by wrapping WebAssembly.Module). */
  compiled: number;
  refused: number;
}

const kernel: KernelReport = { compiled: 0, refused: 0 };
const NativeWasmModule = WebAssembly.Module;
countWasmCompilations();

/**
 * @vhdx/crc32c says nothing about which kernel it used, so the page watches
 * the WebAssembly API it calls: a compiled module means the WebAssembly
 * kernel, a refused one (a CSP without 'wasm-unsafe-eval') the JS fallback.
 */
function countWasmCompilations(): void {
  WebAssembly.Module = new Proxy(NativeWasmModule, {
    construct(target, args, newTarget) {
      try {
        const module = Reflect.construct(target, args, newTarget);
        kernel.compiled++;
        return module;
      } catch (error) {
        kernel.refused++;
        throw error;
      }
    },
  });
}

async function fetchBytes(url: string): Promise<Uint8Array<ArrayBuffer>> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${url}: ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

const hex = (value: number) => value.toString(16).padStart(8, "0");

async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** Hashes the whole virtual disk of an opened image. */
async function digestOfImage(image: VhdxImage): Promise<DiskDigest> {
  const disk = new Uint8Array(image.virtualSize);
  const piece = 4 << 20;
  for (let offset = 0; offset < disk.length; offset += piece) {
    await image.readInto(disk.subarray(offset, Math.min(disk.length, offset + piece)), offset);
  }
  const chain: string[] = [];
  for (let layer: VhdxImage | null = image; layer; layer = layer.parent) chain.push(layer.dataWriteGuid);
  return { diskType: image.diskType, virtualSize: image.virtualSize, sha256: await sha256Hex(disk), chain };
}

/** Opens `sources[0]` with `sources[1..]` as its parent candidates and hashes the whole virtual disk. */
async function digestOfSources(sources: RandomAccessSource[]): Promise<DiskDigest> {
  const [child, ...parents] = sources;
  const image = await openImage(child!, { parents });
  try {
    return await digestOfImage(image);
  } finally {
    await image.close();
    await Promise.all(sources.map((source) => source.close()));
  }
}

/** openChains over the Files or Blobs given in any order: each chain's leaf name and digest, and what was unused. */
async function digestsOfChains(files: Blob[]) {
  const sources = files.map((file) => new BlobSource(file));
  const { images, unused } = await openChains(sources);
  try {
    const chains = [];
    for (const image of images) chains.push({ leaf: image.source.name, ...(await digestOfImage(image)) });
    return { chains, unused: unused.map(({ source, reason }) => ({ name: source.name, reason })) };
  } finally {
    await Promise.all(images.map((image) => image.close()));
    await Promise.all(sources.map((source) => source.close()));
  }
}

function toBase64(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(text);
}

/** The functions a test may call, in the window or (through inWorker) in a worker. */
const functions = {
  crc32cOfText: (text: string) => hex(crc32c(new TextEncoder().encode(text))),

  crc32cOfPattern: (length: number, seed: number) => hex(crc32c(patternBytes(length, seed))),

  /** The CRC-32C of a fetched file with bytes [zeroFrom, zeroTo) zeroed (a checksum field). */
  crc32cOfFile: async (url: string, zeroFrom = 0, zeroTo = 0) => {
    const bytes = await fetchBytes(url);
    bytes.fill(0, zeroFrom, zeroTo);
    return hex(crc32c(bytes));
  },

  kernelReport: (): KernelReport => ({ ...kernel }),

  /** Whether this page may compile WebAssembly at all (an empty module, not counted in kernelReport). */
  canCompileWasm: () => {
    try {
      new NativeWasmModule(new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]));
      return true;
    } catch {
      return false;
    }
  },

  structures: async (baseUrl: string): Promise<StructureReport[]> => roundTripStructures(baseUrl, fetchBytes),

  digestOfUrls: (urls: string[]) => digestOfSources(urls.map((url) => new HttpSource(url))),

  digestOfBlobs: (blobs: Blob[]) => digestOfSources(blobs.map((blob) => new BlobSource(blob))),

  digestsOfChains,

  /** Opens a disk over HTTP and reads its first 4 KiB, for counting requests. */
  readFirst4k: async (url: string) => {
    const image = await openImage(new HttpSource(url));
    try {
      return await sha256Hex((await image.read(0, 4096)).slice());
    } finally {
      await image.close();
    }
  },

  /** Creates an image in a MemorySource, writes the pattern, closes it, and returns the file as base64. */
  createInMemory: async (
    options: { size: number; type: "dynamic" | "fixed"; blockSize: number },
    writes: PatternWrite[],
  ) => {
    const source = new MemorySource();
    const image = await createImage(source, options);
    for (const { offset, length, seed } of writes) await image.write(offset, patternBytes(length, seed));
    await image.close();
    return toBase64(source.bytes());
  },
};

type Functions = typeof functions;
export type FunctionName = keyof Functions;

async function attempt<N extends FunctionName>(
  name: N,
  ...args: Parameters<Functions[N]>
): Promise<Attempt<Awaited<ReturnType<Functions[N]>>>> {
  try {
    const call = functions[name] as (...a: unknown[]) => unknown;
    return { ok: true, value: (await call(...args)) as Awaited<ReturnType<Functions[N]>> };
  } catch (error) {
    const { code, message } = error as { code?: unknown; message?: unknown };
    return { ok: false, code: typeof code === "string" ? code : undefined, message: String(message ?? error) };
  }
}

interface WorkerScope {
  postMessage(message: unknown): void;
  addEventListener(type: "message", listener: (event: MessageEvent) => void): void;
}

if (typeof document === "undefined") {
  const scope = globalThis as unknown as WorkerScope;
  scope.addEventListener("message", (event) => {
    const { id, name, args } = event.data as { id: number; name: FunctionName; args: unknown[] };
    void (attempt as (name: string, ...a: unknown[]) => Promise<unknown>)(name, ...args).then((result) =>
      scope.postMessage({ id, result }),
    );
  });
}

let worker: Worker | undefined;
let nextCallId = 1;

/** Runs a function in a dedicated module worker that loads this same bundle. */
function inWorker<N extends FunctionName>(
  name: N,
  ...args: Parameters<Functions[N]>
): Promise<Attempt<Awaited<ReturnType<Functions[N]>>>> {
  worker ??= new Worker(new URL(import.meta.url), { type: "module" });
  const id = nextCallId++;
  const running = worker;
  return new Promise((resolve, reject) => {
    const onError = (event: ErrorEvent) => reject(new Error(`worker: ${event.message}`));
    const onMessage = (event: MessageEvent) => {
      if (event.data.id !== id) return;
      running.removeEventListener("message", onMessage);
      running.removeEventListener("error", onError);
      resolve(event.data.result);
    };
    running.addEventListener("message", onMessage);
    running.addEventListener("error", onError);
    running.postMessage({ id, name, args });
  });
}

/** The files picked in the page's <input id="files">, in order. */
function pickedFiles(): File[] {
  const input = document.querySelector<HTMLInputElement>("#files");
  return Array.from(input?.files ?? []);
}

/** Fetches URLs into Blobs (Blob reads, not HTTP reads, follow). */
async function fetchBlobs(urls: string[]): Promise<Blob[]> {
  return Promise.all(urls.map(async (url) => new Blob([await fetchBytes(url)])));
}

const probe = {
  ...functions,
  attempt,
  inWorker,
  pickedFiles,
  fetchBlobs,
  inWorkerScope: typeof document === "undefined",
};
export type Probe = typeof probe;
(globalThis as { probe?: Probe }).probe = probe;
