// The allocation picture: a canvas of cells (see allocation.ts), each drawn as
// bands of its states' colours in proportion (a state present at all gets at
// least MIN_BAND pixels, so a few blocks of data in 64 TiB still show), a
// legend, and a line that names the cell under the pointer or keyboard focus.
import { type AllocationSummary, type StateKey, cellContents, orderedStates } from "./allocation.js";
import { h } from "./dom.js";
import { formatShare, formatSize, hex } from "./format.js";

const COLUMNS = 64;
const CELL = 11;
const PITCH = CELL + 1;
const MIN_BAND = 2;
const DATA_COLOURS = ["#2563eb", "#0d9488", "#9333ea", "#d97706", "#db2777"];
const COLOURS: Record<string, string> = { zero: "#b8c2d0", unallocated: "#e9edf2" };

function stateColour(key: StateKey): string {
  if (key.startsWith("data-")) return DATA_COLOURS[Number(key.slice(5)) % DATA_COLOURS.length]!;
  return COLOURS[key] ?? "#000";
}

/** What a state is called in the legend; `layers` are the chain's file names, this disk first. */
function stateLabel(key: StateKey, layers: readonly string[]): string {
  if (key === "zero") return "zero (the block says so)";
  if (key === "unallocated") return "unallocated (nothing holds it)";
  const depth = Number(key.slice(5));
  return depth === 0 ? `data in this disk (${layers[0]})` : `data from parent ${depth} (${layers[depth] ?? "?"})`;
}

export function renderAllocation(summary: AllocationSummary, layers: readonly string[]): HTMLElement {
  const columns = Math.min(COLUMNS, summary.cellCount);
  const rows = Math.ceil(summary.cellCount / columns);
  const canvas = h("canvas", {
    tabindex: 0,
    class: "allocation-canvas",
    "aria-label": "Allocation map. Arrow keys move from cell to cell; the line below names the cell.",
    "data-cells": summary.cellCount,
  });
  const states = orderedStates(summary);
  const counts = cellCounts(summary, states);
  canvas.dataset.counts = JSON.stringify(Object.fromEntries(counts));
  const readout = h("output", { class: "cell-readout", "aria-live": "polite" }, "Point at a cell or focus the map.");
  const grain =
    summary.blocksPerCell === 1
      ? `${summary.cellCount} cells, one per ${formatSize(summary.blockSize)} block.`
      : `${summary.cellCount} cells of ${summary.blocksPerCell} blocks (${formatSize(summary.cellBytes)}) each, ${summary.blocks} blocks in all.`;
  const legend = h(
    "ul",
    { class: "legend" },
    ...states.map((key) => {
      const bytes = summary.bytesByState.get(key)!.reduce((sum, value) => sum + value, 0);
      return h(
        "li",
        { "data-state": key, "data-cells": counts.get(key)!, "data-bytes": bytes },
        swatch(stateColour(key)),
        `${stateLabel(key, layers)}: ${formatSize(bytes)} (${formatShare(bytes, summary.virtualSize)}), in ${counts.get(key)} cell(s)`,
      );
    }),
  );
  let focused = -1;
  const draw = () => drawCells(canvas, summary, states, columns, rows, focused);
  const show = (cell: number) => {
    focused = Math.max(0, Math.min(summary.cellCount - 1, cell));
    readout.textContent = describeCell(summary, focused, layers);
    draw();
  };
  canvas.addEventListener("mousemove", (event) => {
    const box = canvas.getBoundingClientRect();
    const column = Math.floor((event.clientX - box.left) / PITCH);
    const row = Math.floor((event.clientY - box.top) / PITCH);
    const cell = row * columns + column;
    if (column < columns && cell < summary.cellCount) show(cell);
  });
  canvas.addEventListener("keydown", (event) => {
    const moves: Record<string, number> = {
      ArrowRight: 1,
      ArrowLeft: -1,
      ArrowDown: columns,
      ArrowUp: -columns,
      Home: -Infinity,
      End: Infinity,
    };
    const move = moves[event.key];
    if (move === undefined) return;
    event.preventDefault();
    show(Number.isFinite(move) ? Math.max(0, focused) + move : move < 0 ? 0 : summary.cellCount - 1);
  });
  canvas.addEventListener("focus", () => show(Math.max(0, focused)));
  draw();
  return h("figure", { class: "allocation" }, canvas, readout, h("figcaption", {}, grain), legend);
}

/** A legend's colour square; styled through the CSSOM, which the page's CSP allows (a style attribute it does not). */
function swatch(colour: string): HTMLElement {
  const element = h("span", { class: "swatch", "aria-hidden": "true" });
  element.style.background = colour;
  return element;
}

/** How many cells hold some of each state. */
function cellCounts(summary: AllocationSummary, states: StateKey[]): Map<StateKey, number> {
  return new Map(
    states.map((key) => [key, summary.bytesByState.get(key)!.reduce((count, bytes) => count + (bytes > 0 ? 1 : 0), 0)]),
  );
}

function describeCell(summary: AllocationSummary, cell: number, layers: readonly string[]): string {
  const { start, end, states } = cellContents(summary, cell);
  const firstBlock = cell * summary.blocksPerCell;
  const lastBlock = Math.min(summary.blocks, firstBlock + summary.blocksPerCell) - 1;
  const blocks = firstBlock === lastBlock ? `block ${firstBlock}` : `blocks ${firstBlock}-${lastBlock}`;
  const mix = states.map((state) => `${stateLabel(state.key, layers)} ${formatShare(state.bytes, end - start)}`);
  return `Cell ${cell}, ${blocks}: ${hex(start)}-${hex(end)} (${formatSize(start)} to ${formatSize(end)}): ${mix.join(", ")}`;
}

function drawCells(
  canvas: HTMLCanvasElement,
  summary: AllocationSummary,
  states: StateKey[],
  columns: number,
  rows: number,
  focused: number,
): void {
  const scale = window.devicePixelRatio || 1;
  const width = columns * PITCH + 1;
  const height = rows * PITCH + 1;
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  canvas.width = Math.round(width * scale);
  canvas.height = Math.round(height * scale);
  const context = canvas.getContext("2d");
  if (context === null) return;
  context.scale(scale, scale);
  for (let cell = 0; cell < summary.cellCount; cell++) {
    const x = (cell % columns) * PITCH + 1;
    const y = Math.floor(cell / columns) * PITCH + 1;
    drawCell(context, summary, states, cell, x, y);
  }
  if (focused >= 0) {
    context.strokeStyle = "#111";
    context.lineWidth = 2;
    context.strokeRect((focused % columns) * PITCH, Math.floor(focused / columns) * PITCH, PITCH + 1, PITCH + 1);
  }
}

function drawCell(
  context: CanvasRenderingContext2D,
  summary: AllocationSummary,
  states: StateKey[],
  cell: number,
  x: number,
  y: number,
): void {
  const bands = states
    .map((key) => ({ key, bytes: summary.bytesByState.get(key)![cell]! }))
    .filter((band) => band.bytes > 0);
  if (bands.length === 0) return;
  const total = bands.reduce((sum, band) => sum + band.bytes, 0);
  const heights = bands.map((band) => Math.max(MIN_BAND, Math.round((band.bytes / total) * CELL)));
  // Take the pixels the minimums added from the largest band.
  const largest = heights.indexOf(Math.max(...heights));
  heights[largest]! -= heights.reduce((sum, value) => sum + value, 0) - CELL;
  let top = y;
  bands.forEach((band, index) => {
    context.fillStyle = stateColour(band.key);
    context.fillRect(x, top, CELL, heights[index]!);
    top += heights[index]!;
  });
}
