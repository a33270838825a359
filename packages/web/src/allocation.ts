// The allocation of a virtual disk summarised into at most MAX_CELLS cells of
// whole blocks, from one walk of image.extents() (which merges runs, so a
// 64 TiB disk with a few blocks written is a handful of extents): per cell,
// the bytes of each state (data at each depth of the chain, zero,
// unallocated).
import type { DiskExtent, VhdxImage } from "@vhdx/image";

const MAX_CELLS = 4096;

/** "data-0" (this layer), "data-1" (its parent), ..., "zero", "unallocated". */
export type StateKey = string;

export interface AllocationSummary {
  virtualSize: number;
  blockSize: number;
  blocks: number;
  blocksPerCell: number;
  /** Virtual bytes a cell covers (the last cell may cover fewer). */
  cellBytes: number;
  cellCount: number;
  /** Per state, the bytes of that state in each cell. */
  bytesByState: Map<StateKey, Float64Array>;
}

function stateKey(extent: Pick<DiskExtent, "kind" | "depth">): StateKey {
  return extent.kind === "data" ? `data-${extent.depth}` : extent.kind;
}

/** States in drawing and legend order: data by depth, then zero, then unallocated. */
export function orderedStates(summary: AllocationSummary): StateKey[] {
  const rank = (key: StateKey) => (key.startsWith("data-") ? Number(key.slice(5)) : key === "zero" ? 1e6 : 1e6 + 1);
  return [...summary.bytesByState.keys()].sort((a, b) => rank(a) - rank(b));
}

function emptySummary(virtualSize: number, blockSize: number): AllocationSummary {
  const blocks = Math.max(1, Math.ceil(virtualSize / blockSize));
  const blocksPerCell = Math.ceil(blocks / MAX_CELLS);
  return {
    virtualSize,
    blockSize,
    blocks,
    blocksPerCell,
    cellBytes: blocksPerCell * blockSize,
    cellCount: Math.ceil(blocks / blocksPerCell),
    bytesByState: new Map(),
  };
}

/** Adds an extent's bytes to the cells it covers. */
function addExtent(summary: AllocationSummary, extent: DiskExtent): void {
  const key = stateKey(extent);
  let cells = summary.bytesByState.get(key);
  if (cells === undefined) {
    cells = new Float64Array(summary.cellCount);
    summary.bytesByState.set(key, cells);
  }
  const { cellBytes } = summary;
  const end = extent.start + extent.length;
  const last = Math.min(summary.cellCount - 1, Math.floor((end - 1) / cellBytes));
  for (let cell = Math.floor(extent.start / cellBytes); cell <= last; cell++) {
    cells[cell]! += Math.min(end, (cell + 1) * cellBytes) - Math.max(extent.start, cell * cellBytes);
  }
}

/** Runs between two yields to the event loop, so the page stays responsive during a long walk. */
const EXTENTS_PER_SLICE = 2048;

/** Walks the whole disk once; `onProgress` gets the virtual bytes covered so far. Stops with an AbortError when aborted. */
export async function summariseAllocation(
  image: VhdxImage,
  signal: AbortSignal,
  onProgress: (covered: number) => void,
): Promise<AllocationSummary> {
  const summary = emptySummary(image.virtualSize, image.blockSize);
  let count = 0;
  for await (const extent of image.extents()) {
    addExtent(summary, extent);
    if (++count % EXTENTS_PER_SLICE === 0) {
      signal.throwIfAborted();
      onProgress(extent.start + extent.length);
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  }
  onProgress(image.virtualSize);
  return summary;
}

/** The bytes of each state in one cell, and the cell's virtual range. */
export function cellContents(summary: AllocationSummary, cell: number) {
  const start = cell * summary.cellBytes;
  const end = Math.min(summary.virtualSize, start + summary.cellBytes);
  const states = orderedStates(summary)
    .map((key) => ({ key, bytes: summary.bytesByState.get(key)![cell]! }))
    .filter((state) => state.bytes > 0);
  return { start, end, states };
}
