// MS-VHDX 2.5.1.1 Payload BAT Entry States, read side: a byte range of the
// virtual disk becomes a short list of runs, each answered one way:
//
// | kind    | answer                                                          |
// |---------|-----------------------------------------------------------------|
// | data    | read `length` bytes of this file at `fileOffset`                |
// | zero    | fill with zeros                                                 |
// | parent  | read the same virtual range from the parent disk                |
// | partial | one PARTIALLY_PRESENT block: split it with its chunk's sector   |
// |         | bitmap (splitPartialRun) into data and parent runs              |
//
// Adjacent runs of one kind merge, data runs only when their file offsets are
// contiguous; partial runs never merge. Each run is a fresh object: `visit`
// may keep it.
import { SB_BLOCK_PRESENT, VhdxError } from "@vhdx/structs";
import type { BatTable } from "./bat-table.js";
import { type BatGeometry, payloadBatIndex, sectorBitmapBatIndex } from "./geometry.js";
import { sectorRunLength } from "./sector-bitmap.js";
import {
  invalidPayloadState,
  KIND_DATA,
  KIND_INVALID,
  KIND_PARTIAL,
  type PayloadReadKind,
  payloadReadKindCode,
  READ_KINDS,
} from "./states.js";

export interface ReadRun {
  kind: PayloadReadKind;
  /** Start of the run on the virtual disk. */
  virtualOffset: number;
  length: number;
  /** Where the bytes are in this file (data; partial: where the run's first byte would be); -1 otherwise. */
  fileOffset: number;
  /** The payload block the run starts in. */
  block: number;
}

/**
 * Calls `visit` with the runs of [virtualOffset, virtualOffset + length), in
 * order, with no gaps. Validates every BAT entry the range uses.
 */
export function mapRange(table: BatTable, virtualOffset: number, length: number, visit: (run: ReadRun) => void): void {
  const geometry = table.geometry;
  checkRequest(geometry, virtualOffset, length);
  if (typeof visit !== "function") throw new TypeError("mapRange: visit must be a function");
  const { blockSize, hasParent } = geometry;
  const end = virtualOffset + length;
  let pendingKind = KIND_INVALID;
  let pendingStart = 0;
  let pendingLength = 0;
  let pendingFile = -1;
  let pendingBlock = 0;
  let position = virtualOffset;
  for (let block = Math.floor(virtualOffset / blockSize); position < end; block++) {
    const blockStart = block * blockSize;
    const segmentLength = Math.min(blockStart + blockSize, end) - position;
    const index = payloadBatIndex(geometry, block);
    const state = table.state(index);
    const kind = payloadReadKindCode(state, hasParent);
    if (kind === KIND_INVALID) throw invalidPayloadState(state, hasParent, { offset: table.entryFileOffset(index) });
    let file = -1;
    if (kind === KIND_DATA || kind === KIND_PARTIAL) {
      file = blockFileOffset(table, index, block) + (position - blockStart);
      if (kind === KIND_PARTIAL) checkSectorBitmapEntry(table, block);
    }
    const merges =
      kind === pendingKind && kind !== KIND_PARTIAL && (kind !== KIND_DATA || pendingFile + pendingLength === file);
    if (merges) {
      pendingLength += segmentLength;
    } else {
      if (pendingKind !== KIND_INVALID)
        visit(makeRun(pendingKind, pendingStart, pendingLength, pendingFile, pendingBlock));
      pendingKind = kind;
      pendingStart = position;
      pendingLength = segmentLength;
      pendingFile = file;
      pendingBlock = block;
    }
    position += segmentLength;
  }
  if (pendingKind !== KIND_INVALID) visit(makeRun(pendingKind, pendingStart, pendingLength, pendingFile, pendingBlock));
}

/**
 * Splits a "partial" run from mapRange into "data" and "parent" runs with
 * `bitmap`, the sector bitmap block of the run's chunk. Runs may start and end
 * mid-sector. The runs alternate, so they are already merged.
 */
export function splitPartialRun(
  run: ReadRun,
  bitmap: Uint8Array,
  geometry: BatGeometry,
  visit: (run: ReadRun) => void,
): void {
  if (run.kind !== "partial") throw new TypeError(`splitPartialRun: expected a partial run, got ${run.kind}`);
  if (!(bitmap instanceof Uint8Array)) throw new TypeError("splitPartialRun: bitmap must be a Uint8Array");
  const { chunkSize, logicalSectorSize } = geometry;
  const { virtualOffset, length, fileOffset, block } = run;
  const end = virtualOffset + length;
  const chunkStart = virtualOffset - (virtualOffset % chunkSize);
  if (
    !Number.isSafeInteger(virtualOffset) ||
    virtualOffset < 0 ||
    !Number.isSafeInteger(length) ||
    length <= 0 ||
    end - chunkStart > chunkSize ||
    fileOffset < 0
  ) {
    throw new VhdxError("OUT_OF_RANGE", `run [${virtualOffset}, ${end}) is not a partial run inside one chunk`);
  }
  const lastSector = Math.floor((end - 1 - chunkStart) / logicalSectorSize);
  if (lastSector >= bitmap.length * 8) {
    throw new VhdxError("TRUNCATED", `bitmap holds ${bitmap.length * 8} sectors, the run needs ${lastSector + 1}`, {
      structure: "sector bitmap",
    });
  }
  let position = virtualOffset;
  while (position < end) {
    const sector = Math.floor((position - chunkStart) / logicalSectorSize);
    const count = sectorRunLength(bitmap, sector, lastSector - sector + 1);
    const present = (bitmap[sector >>> 3]! >>> (sector & 7)) & 1;
    const runEnd = Math.min(end, chunkStart + (sector + count) * logicalSectorSize);
    visit({
      kind: present ? "data" : "parent",
      virtualOffset: position,
      length: runEnd - position,
      fileOffset: present ? fileOffset + (position - virtualOffset) : -1,
      block,
    });
    position = runEnd;
  }
}

function makeRun(kind: number, virtualOffset: number, length: number, fileOffset: number, block: number): ReadRun {
  return { kind: READ_KINDS[kind]!, virtualOffset, length, fileOffset, block };
}

function checkRequest(geometry: BatGeometry, virtualOffset: number, length: number): void {
  const ok =
    Number.isSafeInteger(virtualOffset) &&
    Number.isSafeInteger(length) &&
    virtualOffset >= 0 &&
    length >= 0 &&
    virtualOffset + length <= geometry.virtualSize;
  if (!ok) {
    throw new VhdxError(
      "OUT_OF_RANGE",
      `range ${virtualOffset}+${length} is outside the virtual disk of ${geometry.virtualSize} bytes`,
    );
  }
}

/** The file offset of a block whose data is in this file: past the header section, and a safe integer. */
function blockFileOffset(table: BatTable, index: number, block: number): number {
  if (table.fileOffsetMB(index) === 0) {
    throw new VhdxError(
      "CORRUPT_BAT",
      `payload block ${block} is present at FileOffsetMB 0, inside the header section`,
      {
        structure: "BAT entry",
        field: "FileOffsetMB",
        offset: table.entryFileOffset(index),
      },
    );
  }
  return table.fileOffset(index);
}

/** A PARTIALLY_PRESENT block needs its chunk's sector bitmap block PRESENT, past the header section. */
function checkSectorBitmapEntry(table: BatTable, block: number): void {
  const chunk = Math.floor(block / table.geometry.chunkRatio);
  const index = sectorBitmapBatIndex(table.geometry, chunk);
  const state = table.state(index);
  const problem =
    state !== SB_BLOCK_PRESENT
      ? `is in state ${state}, but payload block ${block} is PARTIALLY_PRESENT`
      : table.fileOffsetMB(index) === 0
        ? "is present at FileOffsetMB 0, inside the header section"
        : null;
  if (problem !== null) {
    throw new VhdxError("CORRUPT_BAT", `sector bitmap block of chunk ${chunk} ${problem}`, {
      structure: "BAT entry",
      offset: table.entryFileOffset(index),
    });
  }
  table.fileOffset(index); // throws CORRUPT_BAT when past 2^53
}
