// The virtual disk as runs of where its bytes come from, from the BAT and the
// sector bitmaps alone (no payload is read): the library's `qemu-img map`.
//
// | kind        | the bytes                                    | qemu-img map         |
// |-------------|----------------------------------------------|----------------------|
// | data        | are in `file` at `fileOffset` (FULLY_PRESENT | data: true           |
// |             | blocks, present sectors of PARTIALLY_PRESENT)|                      |
// | zero        | read as zeros because a block says so (ZERO, | zero: true,          |
// |             | UNMAPPED, UNDEFINED, the legacy UNMAPPED 5)  | present: true        |
// | unallocated | read as zeros because nothing holds them: a  | zero: true,          |
// |             | NOT_PRESENT block of a disk without a parent,| present: false       |
// |             | or a differencing disk's range past the end  |                      |
// |             | of its parent (state NOT_PRESENT there)      |                      |
//
// `depth` is the image of the chain that answers: 0 this one, 1 its parent,
// ...; `state` that image's BAT state of the block (an unallocated run past a
// parent's end has the depth of the parent and state NOT_PRESENT). A
// differencing disk's NOT_PRESENT blocks and absent sectors never show: the
// parent's runs stand in for them. Neighbours that agree in every field (data:
// and are contiguous in the file) are merged.
//
// The BAT is read an EXTENT_WINDOW at a time (a paged BAT is never all in
// memory, and its windows are copied into one buffer per walk, so a 64 TiB
// walk leaves no trail of garbage), uniform stretches of blocks are scanned one state byte per block,
// and a stretch a child takes from its parent is walked there in one go.
//
// An image opened with `salvage` shows each block it reads as zeros because
// its entry cannot be trusted (read/salvage.ts) as a zero extent with
// `salvaged: true`, where a walk without salvage throws, as a read does.
import {
  type BatGeometry,
  type BatTable,
  PAYLOAD_STATE_NAMES,
  type ReadRun,
  isValidPayloadState,
  mapRange,
  payloadReadKind,
  splitPartialRun,
} from "@vhdx/bat";
import { PAYLOAD_BLOCK_NOT_PRESENT } from "@vhdx/structs";
import type { WindowScratch } from "./bat-pages.js";

export type DiskExtentKind = "data" | "zero" | "unallocated";

/** A run of the virtual disk whose bytes come from one place; see the table above. */
export interface DiskExtent {
  /** Virtual offset of the run's first byte. */
  start: number;
  length: number;
  kind: DiskExtentKind;
  /** Name of the BAT state (PAYLOAD_STATE_NAMES) of the block in the image at `depth`. */
  state: string;
  /** 0 for the image itself, 1 for its parent, ... */
  depth: number;
  /** data only: the `source.name` of the image at `depth`. */
  file?: string;
  /** data only: where `start` lies in that file. */
  fileOffset?: number;
  /** zero only, on a salvage open: the block's entry cannot be trusted, so it reads as zeros (see image.salvaged). */
  salvaged?: true;
}

/** What the walk needs of one image of a chain (VhdxImage hands it over). */
export interface ExtentLayer {
  readonly name: string;
  readonly geometry: BatGeometry;
  /** A BAT table holding the entries of [offset, offset + length) (VhdxImage.batWindow), copied into `scratch` when paged. */
  batWindow(offset: number, length: number, scratch: WindowScratch): Promise<BatTable>;
  /** The sector bitmap block of `chunk`, through the image's cache. */
  sectorBitmap(chunk: number): Promise<Uint8Array>;
  /** Salvage opens: the blocks of [firstBlock, endBlock) that read as zeros (recorded); null otherwise. */
  untrustedBlocks: ((table: BatTable, firstBlock: number, endBlock: number) => Promise<ReadonlySet<number>>) | null;
  /** The parent's layer, null when there is none; throws the image's parentError when the parent could not be opened. */
  parent(): ExtentLayer | null;
}

/** Virtual bytes whose BAT entries are fetched at a time, so a 64 TiB disk's BAT is never all in memory. */
const EXTENT_WINDOW = 4 * 2 ** 30;
/** Runs a layer collects before handing them on. */
const BATCH = 1024;

/** A stretch a differencing disk takes from its parent (NOT_PRESENT blocks, absent sectors). */
interface ParentPiece {
  kind: "parent";
  start: number;
  length: number;
}

type Piece = DiskExtent | ParentPiece;

const NOT_PRESENT = PAYLOAD_STATE_NAMES[PAYLOAD_BLOCK_NOT_PRESENT]!;

/** The merged extents of [offset, offset + length) of `layer`'s virtual disk, in order, with no gaps. */
export async function* diskExtents(
  layer: ExtentLayer,
  offset: number,
  length: number,
): AsyncGenerator<DiskExtent, void, undefined> {
  let pending: DiskExtent | null = null;
  for await (const batch of layerExtents(layer, offset, offset + length, 0)) {
    for (const extent of batch) {
      if (pending !== null && continues(pending, extent)) {
        pending.length += extent.length;
      } else {
        if (pending !== null) yield pending;
        pending = extent;
      }
    }
  }
  if (pending !== null) yield pending;
}

/** The extents of [start, end) of one image at `depth` of the chain, in batches, its parent's standing in where it defers. */
async function* layerExtents(
  layer: ExtentLayer,
  start: number,
  end: number,
  depth: number,
): AsyncGenerator<DiskExtent[], void, undefined> {
  let batch: DiskExtent[] = [];
  let deferredFrom = -1; // [deferredFrom, the next own piece) comes from the parent
  const scratch: WindowScratch = { bytes: null }; // one window at a time: each replaces the one before
  for (let windowStart = start; windowStart < end; ) {
    const windowEnd = Math.min(end, (Math.floor(windowStart / EXTENT_WINDOW) + 1) * EXTENT_WINDOW);
    const table = await layer.batWindow(windowStart, windowEnd - windowStart, scratch);
    for (let at = windowStart; at < windowEnd; ) {
      const state = table.payloadState(Math.floor(at / layer.geometry.blockSize));
      const stretchEnd = sameStateEnd(table, at, state, windowEnd);
      for (const piece of await stretchPieces(layer, table, at, stretchEnd, state, depth)) {
        if (piece.kind === "parent") {
          if (deferredFrom < 0) deferredFrom = piece.start;
          continue;
        }
        if (deferredFrom >= 0) {
          if (batch.length > 0) yield batch;
          batch = [];
          yield* parentExtents(layer, deferredFrom, piece.start, depth);
          deferredFrom = -1;
        }
        pushMerged(batch, piece);
        if (batch.length >= BATCH) {
          yield batch;
          batch = [];
        }
      }
      at = stretchEnd;
    }
    windowStart = windowEnd;
  }
  if (batch.length > 0) yield batch;
  if (deferredFrom >= 0) yield* parentExtents(layer, deferredFrom, end, depth);
}

/** [start, end) of a differencing disk read from its parent: the parent's extents one level deeper, unallocated past its end. */
async function* parentExtents(
  child: ExtentLayer,
  start: number,
  end: number,
  depth: number,
): AsyncGenerator<DiskExtent[], void, undefined> {
  const parent = child.parent();
  const parentEnd = parent === null ? start : Math.max(start, Math.min(end, parent.geometry.virtualSize));
  if (parent !== null && parentEnd > start) yield* layerExtents(parent, start, parentEnd, depth + 1);
  if (parentEnd < end)
    yield [{ start: parentEnd, length: end - parentEnd, kind: "unallocated", state: NOT_PRESENT, depth: depth + 1 }];
}

/** The pieces of [from, to), blocks that all have `state`. */
async function stretchPieces(
  layer: ExtentLayer,
  table: BatTable,
  from: number,
  to: number,
  state: number,
  depth: number,
): Promise<Piece[]> {
  const { hasParent } = layer.geometry;
  const read = isValidPayloadState(state, hasParent) ? payloadReadKind(state, hasParent) : null;
  const name = PAYLOAD_STATE_NAMES[state]!;
  if (read === "parent") return [{ kind: "parent", start: from, length: to - from }];
  if (read === "zero")
    return [
      {
        start: from,
        length: to - from,
        kind: state === PAYLOAD_BLOCK_NOT_PRESENT ? "unallocated" : "zero",
        state: name,
        depth,
      },
    ];
  if (layer.untrustedBlocks !== null) return salvagedPieces(layer, table, from, to, name, depth);
  return presentPieces(layer, table, from, to, name, depth);
}

/** stretchPieces of data, partial or invalid blocks on a salvage open: untrusted blocks are zero extents. */
async function salvagedPieces(
  layer: ExtentLayer,
  table: BatTable,
  from: number,
  to: number,
  state: string,
  depth: number,
): Promise<Piece[]> {
  const { blockSize } = layer.geometry;
  const endBlock = Math.floor((to - 1) / blockSize) + 1;
  const untrusted = await layer.untrustedBlocks!(table, Math.floor(from / blockSize), endBlock);
  if (untrusted.size === 0) return presentPieces(layer, table, from, to, state, depth);
  const pieces: Piece[] = [];
  for (let at = from; at < to; ) {
    let next = Math.floor(at / blockSize) + 1;
    if (untrusted.has(next - 1)) {
      const end = Math.min(to, next * blockSize);
      pieces.push({ start: at, length: end - at, kind: "zero", state, depth, salvaged: true });
      at = end;
      continue;
    }
    while (next < endBlock && !untrusted.has(next)) next++;
    const end = Math.min(to, next * blockSize);
    pieces.push(...(await presentPieces(layer, table, at, end, state, depth)));
    at = end;
  }
  return pieces;
}

/** The pieces of [from, to), data or partial blocks that all have state `name`. */
async function presentPieces(
  layer: ExtentLayer,
  table: BatTable,
  from: number,
  to: number,
  name: string,
  depth: number,
): Promise<Piece[]> {
  // mapRange also refuses invalid states and misplaced blocks (CORRUPT_BAT).
  const runs: ReadRun[] = [];
  mapRange(table, from, to - from, (run) => runs.push(run));
  const pieces: Piece[] = [];
  for (const run of runs) {
    if (run.kind !== "partial") {
      pieces.push(dataExtent(layer, run, name, depth));
      continue;
    }
    const bitmap = await layer.sectorBitmap(Math.floor(run.block / layer.geometry.chunkRatio));
    splitPartialRun(run, bitmap, layer.geometry, (piece) => {
      pieces.push(
        piece.kind === "data"
          ? dataExtent(layer, piece, name, depth)
          : { kind: "parent", start: piece.virtualOffset, length: piece.length },
      );
    });
  }
  return pieces;
}

function dataExtent(layer: ExtentLayer, run: ReadRun, state: string, depth: number): DiskExtent {
  return {
    start: run.virtualOffset,
    length: run.length,
    kind: "data",
    state,
    depth,
    file: layer.name,
    fileOffset: run.fileOffset,
  };
}

/**
 * Where the stretch of blocks from the one holding `at` that all have
 * `state` ends (at most `end`). One state byte per block, read straight from
 * the table: a 64 TiB disk has 64 Mi blocks of 1 MiB, nearly all alike.
 */
function sameStateEnd(table: BatTable, at: number, state: number, end: number): number {
  const { blockSize, chunkRatio } = table.geometry;
  const { bytes, firstEntry } = table;
  const endBlock = Math.ceil(end / blockSize);
  let block = Math.floor(at / blockSize) + 1;
  // A payload block's entry is block + floor(block / chunkRatio): sector bitmap entries sit between chunks.
  while (block < endBlock && (bytes[(block + Math.floor(block / chunkRatio) - firstEntry) * 8]! & 7) === state) block++;
  return Math.min(block * blockSize, end);
}

function pushMerged(batch: DiskExtent[], extent: DiskExtent): void {
  const last = batch[batch.length - 1];
  if (last !== undefined && continues(last, extent)) last.length += extent.length;
  else batch.push(extent);
}

/** Whether `next` carries on where `extent` ends, agreeing in every field (data: contiguous in the file). */
function continues(extent: DiskExtent, next: DiskExtent): boolean {
  return (
    extent.start + extent.length === next.start &&
    extent.kind === next.kind &&
    extent.depth === next.depth &&
    extent.state === next.state &&
    extent.file === next.file &&
    extent.salvaged === next.salvaged &&
    (extent.fileOffset === undefined
      ? next.fileOffset === undefined
      : extent.fileOffset + extent.length === next.fileOffset)
  );
}
