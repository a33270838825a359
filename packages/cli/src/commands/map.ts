// vhdx map: the extents of the virtual disk, in the spirit of `qemu-img map`:
// where each range's bytes come from (data in this file, zeros, or a parent
// at some depth of the chain), from the BAT and the sector bitmaps alone;
// no payload is read. Adjacent extents that agree in every field (and whose
// data is contiguous in the same file) are merged. Output is streamed, so a
// 64 TiB disk with millions of extents needs no more memory than a small one
// (besides each image's BAT, which @vhdx/image loads whole).
import { type BatTable, PAYLOAD_STATE_NAMES, payloadBatIndex, splitPartialRun } from "@vhdx/bat";
import { type VhdxImage, VhdxError } from "@vhdx/image";
import { SB_BLOCK_PRESENT, SECTOR_BITMAP_BLOCK_SIZE } from "@vhdx/structs";
import { type Command, EXIT_OK, readAccessHelp, READ_ACCESS_OPTIONS, imageAccess, parseCommandArgs } from "../command.js";
import { openDisk, parseFormat } from "../disk.js";
import { type CliIO, writeChunk } from "../io.js";

const HELP = `Usage: vhdx map [--json] [-f FORMAT] FILE

Lists the extents of the virtual disk in order, covering all of it, with
where each one's bytes come from, like qemu-img map:

  data     the bytes are in a file (Mapped to: the file offset)
  zero     the disk reads zeros there (a ZERO, UNMAPPED or UNDEFINED block,
           or a NOT_PRESENT block of a disk without a parent)
  depth    0 for this file, 1 for its parent, 2 for the grandparent, ...:
           NOT_PRESENT blocks and absent sectors of PARTIALLY_PRESENT blocks
           of a differencing disk come from deeper in the chain
  state    the BAT state of the block in the file at that depth

Only the BAT and sector bitmaps are read. Adjacent extents that agree in
every field are merged. A raw file maps as one data extent.

Options:
  --json        a JSON array of {start, length, depth, present, zero, data,
                offset (data only), state}, the fields of qemu-img map --output=json
                plus state
  -f FORMAT     vhdx or raw (default: detected from the first bytes; other image
                formats such as qcow2 or VHD are refused)
${readAccessHelp(16)}

Examples:
  vhdx map disk.vhdx
  vhdx map --json child.vhdx | jq '[.[] | select(.data)] | length'`;

export interface MapExtent {
  start: number;
  length: number;
  depth: number;
  present: boolean;
  zero: boolean;
  data: boolean;
  /** File offset of `start` in the file at `depth`, for data. */
  offset?: number;
  state: string;
  /** The file at `depth` holding the data (human output only). */
  file?: string;
}

export const map: Command = {
  name: "map",
  summary: "list the extents of the virtual disk: data, zeros, parent",
  help: HELP,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(
      "map",
      args,
      { json: { type: "boolean" }, format: { type: "string", short: "f" }, ...READ_ACCESS_OPTIONS },
      { min: 1, max: 1 },
    );
    const disk = await openDisk(positionals[0]!, io, parseFormat(values.format, "-f"), imageAccess(values));
    const out = new Output(io, values.json === true);
    try {
      const emitter = new Merger((extent) => out.extent(extent));
      if (disk.image === null) {
        if (disk.size > 0) await emitter.push({ start: 0, length: disk.size, depth: 0, present: true, zero: false, data: true, offset: 0, state: "RAW", file: disk.path });
      } else {
        await mapImage(disk.image, emitter);
      }
      await emitter.flush();
      await out.end();
    } finally {
      await disk.close();
    }
    return EXIT_OK;
  },
};

/** Calls `emit` with the merged extents of the whole of `image`, in order. */
export async function mapImage(image: VhdxImage, emitter: Merger): Promise<void> {
  const bitmaps = new BitmapCache();
  await walk(image, 0, image.virtualSize, 0, emitter, bitmaps);
}

async function walk(image: VhdxImage, start: number, length: number, depth: number, emitter: Merger, bitmaps: BitmapCache): Promise<void> {
  const geometry = image.geometry;
  const { blockSize, hasParent } = geometry;
  const file = image.source.name;
  const end = start + length;
  let parentStart = -1;
  let parentEnd = -1;
  const flushParent = async () => {
    if (parentStart < 0) return;
    const [s, e] = [parentStart, parentEnd];
    parentStart = parentEnd = -1;
    await walkParent(image, s, e - s, depth, emitter, bitmaps);
  };
  let table: BatTable | null = null;
  let tableEnd = 0;
  for (let position = start; position < end; ) {
    if (table === null || position >= tableEnd) {
      tableEnd = Math.min(end, (Math.floor(position / BAT_WINDOW) + 1) * BAT_WINDOW);
      table = await image.batWindow(position, tableEnd - position);
    }
    const block = Math.floor(position / blockSize);
    const blockStart = block * blockSize;
    let segmentEnd = Math.min(blockStart + blockSize, end);
    const index = payloadBatIndex(geometry, block);
    const state = table.state(index);
    if (state === 0 && hasParent) {
      if (parentStart < 0) parentStart = position;
      parentEnd = segmentEnd;
      position = segmentEnd;
      continue;
    }
    await flushParent();
    if (state !== 6 && state !== 7) segmentEnd = sameStateEnd(table, block, state, tableEnd);
    const base = { start: position, length: segmentEnd - position, depth, state: PAYLOAD_STATE_NAMES[state] ?? String(state) };
    switch (state) {
      case 6:
        await emitter.push({ ...base, present: true, zero: false, data: true, offset: blockOffset(table, index, block) + (position - blockStart), file });
        break;
      case 0:
        await emitter.push({ ...base, present: false, zero: true, data: false });
        break;
      case 1:
      case 2:
      case 3:
      case 5:
        await emitter.push({ ...base, present: true, zero: true, data: false });
        break;
      case 7: {
        if (!hasParent) throw badState(table, index, block, state, "PARTIALLY_PRESENT is valid only in a differencing disk");
        const chunk = Math.floor(block / geometry.chunkRatio);
        const bitmap = await bitmaps.get(image, table, chunk);
        const pieces: Array<{ kind: string; virtualOffset: number; length: number; fileOffset: number }> = [];
        const run = { kind: "partial" as const, virtualOffset: position, length: segmentEnd - position, fileOffset: blockOffset(table, index, block) + (position - blockStart), block };
        splitPartialRun(run, bitmap, geometry, (piece) => pieces.push({ ...piece }));
        for (const piece of pieces) {
          if (piece.kind === "data") {
            await emitter.push({ start: piece.virtualOffset, length: piece.length, depth, state: base.state, present: true, zero: false, data: true, offset: piece.fileOffset, file });
          } else {
            await walkParent(image, piece.virtualOffset, piece.length, depth, emitter, bitmaps);
          }
        }
        break;
      }
      default:
        throw badState(table, index, block, state, "a reserved value no reader can interpret");
    }
    position = segmentEnd;
  }
  await flushParent();
}

/** Virtual bytes whose BAT entries are fetched at a time (a window of a large, paged BAT). */
const BAT_WINDOW = 4 * 2 ** 30;

/**
 * Where the run of blocks from `block` on that all have `state` ends (at most
 * `end`): one extent for them all, not an await per block, since a big disk
 * is mostly one long run (64 Mi blocks of 1 MiB in a 64 TiB disk).
 */
function sameStateEnd(table: BatTable, block: number, state: number, end: number): number {
  const { blockSize, payloadBlockCount } = table.geometry;
  let next = block + 1;
  while (next < payloadBlockCount && next * blockSize < end && table.payloadState(next) === state) next++;
  return Math.min(next * blockSize, end);
}

/** [start, start+length) of `child` comes from its parent: map it there, one level deeper. */
async function walkParent(child: VhdxImage, start: number, length: number, depth: number, emitter: Merger, bitmaps: BitmapCache): Promise<void> {
  const parent = child.parent;
  const inParent = parent === null ? 0 : Math.max(0, Math.min(length, parent.virtualSize - start));
  if (parent !== null && inParent > 0) await walk(parent, start, inParent, depth + 1, emitter, bitmaps);
  if (inParent < length) {
    // Past the parent's end (or with no parent at all) the disk reads zeros.
    await emitter.push({ start: start + inParent, length: length - inParent, depth: depth + 1, present: false, zero: true, data: false, state: "NOT_PRESENT" });
  }
}

function blockOffset(table: BatTable, index: number, block: number): number {
  if (table.fileOffsetMB(index) === 0) throw badState(table, index, block, table.state(index), "present at FileOffsetMB 0, inside the header section");
  return table.fileOffset(index);
}

function badState(table: BatTable, index: number, block: number, state: number, why: string): VhdxError {
  return new VhdxError("CORRUPT_BAT", `payload block ${block} has state ${state} (${PAYLOAD_STATE_NAMES[state] ?? "?"}): ${why}; vhdx check tells more`, {
    structure: "BAT entry",
    offset: table.entryFileOffset(index),
  });
}

/** The last sector bitmap block read, per image. */
class BitmapCache {
  private readonly cached = new Map<VhdxImage, { chunk: number; bytes: Uint8Array }>();

  async get(image: VhdxImage, table: BatTable, chunk: number): Promise<Uint8Array> {
    const hit = this.cached.get(image);
    if (hit !== undefined && hit.chunk === chunk) return hit.bytes;
    if (table.sectorBitmapState(chunk) !== SB_BLOCK_PRESENT) {
      throw new VhdxError("CORRUPT_BITMAP", `chunk ${chunk} has partially present blocks but its sector bitmap block is not present`, { structure: "BAT" });
    }
    const offset = table.sectorBitmapFileOffset(chunk);
    const bytes = hit?.bytes ?? new Uint8Array(SECTOR_BITMAP_BLOCK_SIZE);
    let done = 0;
    while (done < bytes.length) {
      const count = await image.source.read(bytes.subarray(done), offset + done);
      if (count <= 0) throw new VhdxError("TRUNCATED", `the sector bitmap block of chunk ${chunk} at 0x${offset.toString(16)} ends past the end of the file`, { structure: "sector bitmap", offset });
      done += count;
    }
    this.cached.set(image, { chunk, bytes });
    return bytes;
  }
}

/** Merges adjacent extents that agree; data extents only when contiguous in the same file. */
export class Merger {
  private pending: MapExtent | null = null;

  constructor(private readonly emit: (extent: MapExtent) => Promise<void> | void) {}

  async push(extent: MapExtent): Promise<void> {
    const p = this.pending;
    if (
      p !== null &&
      p.start + p.length === extent.start &&
      p.depth === extent.depth &&
      p.present === extent.present &&
      p.zero === extent.zero &&
      p.data === extent.data &&
      p.state === extent.state &&
      p.file === extent.file &&
      (p.offset === undefined ? extent.offset === undefined : extent.offset === p.offset + p.length)
    ) {
      p.length += extent.length;
      return;
    }
    await this.flush();
    this.pending = { ...extent };
  }

  async flush(): Promise<void> {
    const p = this.pending;
    this.pending = null;
    if (p !== null) await this.emit(p);
  }
}

/** Writes extents as a qemu-img-like table or a JSON array, in 64 KiB chunks with backpressure. */
class Output {
  private text = "";
  private count = 0;

  constructor(
    private readonly io: CliIO,
    private readonly json: boolean,
  ) {
    if (!json) this.text = `${"Offset".padEnd(16)}${"Length".padEnd(16)}${"Mapped to".padEnd(16)}${"Depth".padEnd(7)}${"State".padEnd(20)}File\n`;
  }

  async extent(e: MapExtent): Promise<void> {
    if (this.json) {
      const { file: _file, ...fields } = e;
      const ordered = {
        start: fields.start,
        length: fields.length,
        depth: fields.depth,
        present: fields.present,
        zero: fields.zero,
        data: fields.data,
        ...(fields.offset === undefined ? {} : { offset: fields.offset }),
        state: fields.state,
      };
      this.text += `${this.count === 0 ? "[" : ",\n"}${JSON.stringify(ordered)}`;
    } else {
      const mapped = e.offset === undefined ? "-" : qemuHex(e.offset);
      this.text += `${qemuHex(e.start).padEnd(16)}${qemuHex(e.length).padEnd(16)}${mapped.padEnd(16)}${String(e.depth).padEnd(7)}${e.state.padEnd(20)}${e.data ? (e.file ?? "-") : "-"}\n`;
    }
    this.count++;
    if (this.text.length >= 65536) await this.drain();
  }

  async end(): Promise<void> {
    if (this.json) this.text += this.count === 0 ? "[]\n" : "]\n";
    await this.drain();
  }

  private async drain(): Promise<void> {
    if (this.text.length === 0) return;
    const chunk = new TextEncoder().encode(this.text);
    this.text = "";
    await writeChunk(this.io.stdout, chunk);
  }
}

/** Like C's %#x: 0 as "0", the rest with "0x". */
function qemuHex(value: number): string {
  return value === 0 ? "0" : `0x${value.toString(16)}`;
}
