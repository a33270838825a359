// vhdx map: the extents of the virtual disk, in the spirit of `qemu-img map`:
// a printer over image.extents() (where each range's bytes come from: data in
// a file of the chain, zeros, or nothing), from the BAT and the sector bitmaps
// alone; no payload is read. Output is streamed, so a 64 TiB disk with
// millions of extents needs no more memory than a small one.
import type { DiskExtent } from "@vhdx/image";
import {
  type Command,
  EXIT_OK,
  readAccessHelp,
  READ_ACCESS_OPTIONS,
  imageAccess,
  parseCommandArgs,
} from "../command.js";
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
      if (disk.image === null) {
        if (disk.size > 0)
          await out.extent({
            start: 0,
            length: disk.size,
            depth: 0,
            present: true,
            zero: false,
            data: true,
            offset: 0,
            state: "RAW",
            file: disk.path,
          });
      } else {
        for await (const extent of disk.image.extents()) await out.extent(mapExtent(extent));
      }
      await out.end();
    } finally {
      await disk.close();
    }
    return EXIT_OK;
  },
};

/** An extent in qemu-img map's terms: present unless unallocated, zero unless data. */
function mapExtent(extent: DiskExtent): MapExtent {
  const { start, length, kind, depth, state } = extent;
  const data = kind === "data";
  return {
    start,
    length,
    depth,
    present: kind !== "unallocated",
    zero: !data,
    data,
    offset: extent.fileOffset,
    state,
    file: extent.file,
  };
}

/** Writes extents as a qemu-img-like table or a JSON array, in 64 KiB chunks with backpressure. */
class Output {
  private text = "";
  private count = 0;

  constructor(
    private readonly io: CliIO,
    private readonly json: boolean,
  ) {
    if (!json)
      this.text = `${"Offset".padEnd(16)}${"Length".padEnd(16)}${"Mapped to".padEnd(16)}${"Depth".padEnd(7)}${"State".padEnd(20)}File\n`;
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
