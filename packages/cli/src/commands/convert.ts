// vhdx convert: raw to VHDX, VHDX to raw, VHDX to VHDX (which flattens a
// differencing chain). Only the source's data is read (a VHDX's zero blocks
// never are), a piece at a time, so memory stays bounded whatever the size.
// Zeros are never written: a raw output has holes there, and a VHDX output
// leaves blocks of zeros unallocated. Like qemu-img convert, cp and dd, DST is
// left to the page cache unless --sync asks for it to reach the disk.
import { rm, stat } from "node:fs/promises";
import { resolve } from "node:path";
import { type VhdxImage, VhdxError } from "@vhdx/image";
import { createVhdx } from "@vhdx/image/node";
import { type Command, EXIT_OK, parseCommandArgs, usageError } from "../command.js";
import { type Disk, type DiskFormat, openDisk, parseFormat } from "../disk.js";
import { writeJson } from "../io.js";
import { parseSize } from "../sizes.js";
import { type Sink, copyRange, finishFile, isDiskFile, openSparseFile, tracker } from "../copy.js";

const HELP = `Usage: vhdx convert [-f vhdx|raw] [-O vhdx|raw] [-t fixed|dynamic] [--block-size S]
                    [--logical-sector-size 512|4096] [--physical-sector-size 512|4096]
                    [--sync] [--force] [--json] SRC DST

Copies the virtual disk in SRC to a new image DST. SRC is a VHDX (found by its
signature; a differencing disk is read through its parents, so the copy is a
flat, standalone disk) or a raw file (anything else). DST is a VHDX unless -O
raw says otherwise. Only data is copied: a raw DST is a sparse file with holes
where the disk reads as zeros, and a VHDX DST leaves blocks of zeros
unallocated. A raw SRC whose size is not a multiple of the logical sector size
is padded with zeros up to the next sector.

DST must not exist: vhdx convert refuses to replace a file unless --force is
given (qemu-img replaces it silently). DST may never be SRC or one of its
parents. If the conversion fails, the partly written DST is removed.

Like qemu-img convert, cp and dd, vhdx convert leaves DST in the operating
system's page cache and does not wait for it to reach the disk: a crash or
power cut soon after it returns may lose or corrupt DST. Run sync(1), or give
--sync, before you rely on it (or delete SRC).

Options:
  -f, --format FORMAT          SRC's format: vhdx or raw (default: found from its signature)
  -O, --output-format FORMAT   DST's format: vhdx (default) or raw
  -t, --type TYPE              a VHDX DST's type: dynamic (default) or fixed
  --block-size S               a VHDX DST's block size, 1M to 256M (default: SRC's, or 32M)
  --logical-sector-size N      a VHDX DST's logical sector size (default: SRC's, or 512)
  --physical-sector-size N     a VHDX DST's physical sector size (default: SRC's, or 4096)
  --sync                       flush DST to stable storage before exiting, with every
                               metadata update ordered by the log as MS-VHDX requires:
                               what Hyper-V does; slower
  --force                      replace DST if it exists
  --json                       print what was written as JSON (otherwise nothing is printed)

A progress bar is shown on stderr when it is a terminal.

Examples:
  vhdx convert -O raw disk.vhdx disk.raw
  vhdx convert --block-size 2M disk.raw disk.vhdx
  vhdx convert child.vhdx flat.vhdx        # flatten a differencing chain
  vhdx convert --sync disk.raw disk.vhdx   # on stable storage when it returns`;

const OPTIONS = {
  format: { type: "string", short: "f" },
  "output-format": { type: "string", short: "O" },
  type: { type: "string", short: "t" },
  "block-size": { type: "string" },
  "logical-sector-size": { type: "string" },
  "physical-sector-size": { type: "string" },
  sync: { type: "boolean" },
  force: { type: "boolean" },
  json: { type: "boolean" },
} as const;

const VHDX_ONLY = ["type", "block-size", "logical-sector-size", "physical-sector-size"] as const;

interface VhdxOutput {
  type: "fixed" | "dynamic";
  blockSize?: number;
  logicalSectorSize?: 512 | 4096;
  physicalSectorSize?: 512 | 4096;
}

export const convert: Command = {
  name: "convert",
  summary: "convert between VHDX and raw, or flatten a differencing chain",
  help: HELP,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs("convert", args, OPTIONS, { min: 2, max: 2 });
    const sourceFormat = parseFormat(values.format, "-f");
    const format: DiskFormat = parseFormat(values["output-format"], "-O") ?? "vhdx";
    if (format === "raw") {
      const given = VHDX_ONLY.filter((option) => values[option] !== undefined);
      if (given.length > 0) throw usageError("convert", `${given.map((o) => (o === "type" ? "-t" : `--${o}`)).join(", ")} only apply to a VHDX DST, not -O raw`);
    }
    const type = values.type ?? "dynamic";
    if (type !== "fixed" && type !== "dynamic") throw usageError("convert", `-t takes fixed or dynamic, not ${JSON.stringify(type)}`);
    const options: VhdxOutput = {
      type,
      ...(values["block-size"] === undefined ? {} : { blockSize: parseSize(values["block-size"], "--block-size") }),
      ...(values["logical-sector-size"] === undefined ? {} : { logicalSectorSize: sectorSize(values["logical-sector-size"], "--logical-sector-size") }),
      ...(values["physical-sector-size"] === undefined ? {} : { physicalSectorSize: sectorSize(values["physical-sector-size"], "--physical-sector-size") }),
    };
    const destination = resolve(io.cwd, positionals[1]!);
    const disk = await openDisk(positionals[0]!, io.cwd, sourceFormat);
    try {
      await clearDestination(destination, disk, values.force === true);
      const bar = tracker(io, "convert", disk.size);
      const sync = values.sync === true;
      let report: Record<string, unknown>;
      try {
        report = format === "raw" ? await toRaw(disk, destination, sync, bar.update) : await toVhdx(disk, destination, options, sync, bar.update);
      } catch (error) {
        bar.abandon();
        throw error;
      }
      bar.finish();
      const info = await stat(destination);
      if (values.json) {
        writeJson(io, {
          source: disk.path,
          sourceFormat: disk.format,
          destination,
          ...report,
          fileSize: info.size,
          allocatedBytes: info.blocks * 512,
        });
      }
      return EXIT_OK;
    } finally {
      await disk.close();
    }
  },
};

/** Refuses DST when it is SRC (or a parent), or exists without --force; removes it with --force. */
async function clearDestination(destination: string, disk: Disk, force: boolean): Promise<void> {
  const existing = await stat(destination).catch(() => null);
  if (existing === null) return;
  if (await isDiskFile(destination, disk)) {
    throw usageError("convert", `DST ${destination} is the source${disk.image?.parent ? " or one of its parents" : ""}; convert into a new file`);
  }
  if (existing.isDirectory()) throw usageError("convert", `DST ${destination} is a folder`);
  if (!force) throw usageError("convert", `DST ${destination} exists; add --force to replace it`);
  await rm(destination, { force: true });
}

async function toRaw(disk: Disk, destination: string, sync: boolean, done: (bytes: number) => void): Promise<Record<string, unknown>> {
  const sink = await openSparseFile(destination, false, 0, sync);
  await finishFile(sink, disk.size, () => copyRange(disk, 0, disk.size, sink, done));
  return { format: "raw", virtualSize: disk.size, dataBytes: sink.written };
}

async function toVhdx(disk: Disk, destination: string, options: VhdxOutput, sync: boolean, done: (bytes: number) => void): Promise<Record<string, unknown>> {
  const source = disk.image;
  const logicalSectorSize = options.logicalSectorSize ?? (source?.logicalSectorSize as 512 | 4096 | undefined) ?? 512;
  const physicalSectorSize = options.physicalSectorSize ?? (source?.physicalSectorSize as 512 | 4096 | undefined);
  const blockSize = options.blockSize ?? source?.blockSize;
  const size = Math.ceil(disk.size / logicalSectorSize) * logicalSectorSize;
  if (size === 0) throw new VhdxError("INVALID_ARGUMENT", `convert: ${disk.path} is empty; a VHDX needs a virtual size above 0`);
  const image = await createVhdx(destination, {
    size,
    type: options.type,
    logicalSectorSize,
    flush: sync,
    ...(blockSize === undefined ? {} : { blockSize }),
    ...(physicalSectorSize === undefined ? {} : { physicalSectorSize }),
  });
  let written = 0;
  const sink: Sink = {
    reusesBuffers: true,
    skipsZeroGrains: true,
    async data(bytes, offset) {
      await image.write(offset, bytes);
      written += bytes.length;
    },
  };
  try {
    await copyRange(disk, 0, disk.size, sink, done);
    await image.close();
  } catch (error) {
    await closeQuietly(image);
    await rm(destination, { force: true }).catch(() => undefined);
    throw error;
  }
  return {
    format: "vhdx",
    type: image.diskType,
    virtualSize: image.virtualSize,
    blockSize: image.blockSize,
    logicalSectorSize: image.logicalSectorSize,
    physicalSectorSize: image.physicalSectorSize,
    dataBytes: written,
  };
}

async function closeQuietly(image: VhdxImage): Promise<void> {
  await image.close().catch(() => undefined);
}

function sectorSize(text: string, option: string): 512 | 4096 {
  if (text === "512" || text === "4096") return Number(text) as 512 | 4096;
  throw new VhdxError("INVALID_ARGUMENT", `${option} takes 512 or 4096, not ${JSON.stringify(text)}`);
}
