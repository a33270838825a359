// vhdx convert: raw to VHDX, VHDX to raw, VHDX to VHDX (which flattens a
// differencing chain). Only the source's data is read (a VHDX's zero blocks
// never are), a piece at a time, so memory stays bounded whatever the size.
// Zeros are never written: a raw output has holes there, and a VHDX output
// leaves blocks of zeros unallocated. Like qemu-img convert, cp and dd, DST is
// left to the page cache unless --sync asks for it to reach the disk. DST is
// made all or nothing, under a temporary name (../output-file.ts).
import { stat } from "node:fs/promises";
import { resolve } from "node:path";
import { type VhdxImage, VhdxError } from "@vhdx/image";
import { createVhdx } from "@vhdx/image/node";
import {
  type Command,
  progressHelp,
  PROGRESS_OPTIONS,
  readAccessHelp,
  READ_ACCESS_OPTIONS,
  parseCommandArgs,
  usageError,
  withProgressChoice,
} from "../command.js";
import { type Disk, type DiskFormat, openDisk, parseFormat } from "../disk.js";
import { type Interrupts, runInterruptible } from "../interrupt.js";
import { type CliIO, writeJson } from "../io.js";
import { writeOutput } from "../output-file.js";
import { parseLayoutOptions } from "../sizes.js";
import { type Sink, copyRange, copyToFile } from "../copy.js";
import { isDiskFile } from "../guards.js";
import { copyUserItems } from "../user-items.js";
import { tracker } from "../progress.js";
import { SALVAGE_OPTIONS, salvageAccess, salvagedJson, salvageStatus } from "../salvage.js";

const HELP = `Usage: vhdx convert [-f vhdx|raw] [-O vhdx|raw] [-p|-q] [-U] [--confine-parents] [-t fixed|dynamic] [--block-size S]
                    [--logical-sector-size 512|4096] [--physical-sector-size 512|4096]
                    [--sync] [--force] [--salvage] [--json] SRC DST

Copies the virtual disk in SRC to a new image DST. SRC is a VHDX (a differencing
disk is read through its parents, so the copy is a flat, standalone disk) or
a raw file. Without -f the format is found from the
file's first bytes: qcow2, VHD, VMDK, VDI, QED and Parallels images are
refused (UNSUPPORTED_FORMAT; convert them with qemu-img, or give -f raw to
take their bytes as a raw disk on purpose), and a file that starts like a VHDX
but does not open is an error, never raw. DST is a VHDX unless -O
raw says otherwise. Only data is copied: a raw DST is a sparse file with holes
where the disk reads as zeros, and a VHDX DST leaves blocks of zeros
unallocated. A raw SRC whose size is not a multiple of the logical sector size
is padded with zeros up to the next sector.

DST must not exist: vhdx convert refuses to replace a file unless --force is
given (qemu-img replaces it silently). DST may never be SRC or one of its
parents, nor a folder, device or pipe.

DST is written as DST.partial-<pid>-<random> in DST's folder, and renamed to
DST only when it is complete (a VHDX closed cleanly, and with --sync flushed).
If the conversion fails or is interrupted (Ctrl-C, SIGTERM, SIGHUP), that
file is removed: nothing appears under DST's name, and a DST that --force
would have replaced is left untouched. The exit status is then 2 (an error)
or 128 + the signal's number (130 for Ctrl-C); a second signal exits at once,
still removing the file. After a kill -9 or a power cut at most the
.partial- file is left, which you may delete.

Like qemu-img convert, cp and dd, vhdx convert leaves DST in the operating
system's page cache and does not wait for it to reach the disk: a crash or
power cut soon after it returns may lose or corrupt DST. Run sync(1), or give
--sync, before you rely on it (or delete SRC).

A damaged SRC stops the conversion at the first block it cannot trust (exit
status 2, and no DST). With --salvage, such a block reads as zeros and the
conversion goes on (see vhdx cat --help for which blocks): DST is made, each
range read as zeros is one line on stderr (and in --json's "salvaged" list,
with its offsets and error), and the exit status is 3: DST is whole but
incomplete.

Options:
  -f, --format FORMAT          SRC's format: vhdx or raw (default: found from its signature)
${readAccessHelp(31)}
${progressHelp(31)}
  -O, --output-format FORMAT   DST's format: vhdx (default) or raw
  -t, --type TYPE              a VHDX DST's type: dynamic (default) or fixed
  --block-size S               a VHDX DST's block size, 1M to 256M (default: SRC's, or 32M)
  --logical-sector-size N      a VHDX DST's logical sector size (default: SRC's, or 512)
  --physical-sector-size N     a VHDX DST's physical sector size (default: SRC's, or 4096)
  --sync                       flush DST to stable storage before exiting, with every
                               metadata update ordered by the log as MS-VHDX requires:
                               what Hyper-V does; slower
  --force                      replace DST if it exists (once the new one is complete)
  --salvage                    read SRC's blocks that cannot be trusted or read as zeros,
                               list them, and exit with status 3
  --json                       print what was written as JSON (otherwise nothing is printed)

A progress bar is shown on stderr when it is a terminal.

Examples:
  vhdx convert -O raw disk.vhdx disk.raw
  vhdx convert --block-size 2M disk.raw disk.vhdx
  vhdx convert child.vhdx flat.vhdx        # flatten a differencing chain
  vhdx convert --sync disk.raw disk.vhdx   # on stable storage when it returns
  vhdx convert --salvage damaged.vhdx rescued.vhdx   # what can be read; status 3 if not all`;

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
  ...READ_ACCESS_OPTIONS,
  ...PROGRESS_OPTIONS,
  ...SALVAGE_OPTIONS,
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
  help: HELP,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs("convert", args, OPTIONS, { min: 2, max: 2 });
    io = withProgressChoice(io, values);
    const sourceFormat = parseFormat(values.format, "-f");
    const format: DiskFormat = parseFormat(values["output-format"], "-O") ?? "vhdx";
    if (format === "raw") {
      const given = VHDX_ONLY.filter((option) => values[option] !== undefined);
      if (given.length > 0)
        throw usageError(
          "convert",
          `${given.map((o) => (o === "type" ? "-t" : `--${o}`)).join(", ")} only apply to a VHDX DST, not -O raw`,
        );
    }
    const type = values.type ?? "dynamic";
    if (type !== "fixed" && type !== "dynamic")
      throw usageError("convert", `-t takes fixed or dynamic, not ${JSON.stringify(type)}`);
    const options: VhdxOutput = {
      type,
      ...parseLayoutOptions(values),
    };
    const destination = resolve(io.cwd, positionals[1]!);
    const disk = await openDisk(positionals[0]!, io, sourceFormat, salvageAccess(values));
    try {
      await refuseSource(destination, disk);
      const output: Output = { destination, replace: values.force === true, sync: values.sync === true };
      const report = await runInterruptible(io, (interrupts) =>
        convertShown(io, disk, format, options, { ...output, interrupts }),
      );
      if (typeof report === "number") return report;
      const info = await stat(destination);
      if (values.json) {
        writeJson(io, {
          source: disk.path,
          sourceFormat: disk.format,
          destination,
          ...report,
          fileSize: info.size,
          allocatedBytes: info.blocks * 512,
          ...salvagedJson(disk, values.salvage),
        });
      }
      return salvageStatus(io, "convert", disk);
    } finally {
      await disk.close();
    }
  },
};

/** DST may never be SRC or one of its parents, not even with --force. */
async function refuseSource(destination: string, disk: Disk): Promise<void> {
  if (await isDiskFile(destination, disk)) {
    throw usageError(
      "convert",
      `DST ${destination} is the source${disk.image?.parent ? " or one of its parents" : ""}; convert into a new file`,
    );
  }
}

interface Output {
  destination: string;
  /** --force: an existing DST is replaced, by the final rename. */
  replace: boolean;
  sync: boolean;
}

/**
 * The conversion with its progress bar, written all or nothing
 * (writeOutput); resolves to what the --json report says about DST.
 */
async function convertShown(
  io: CliIO,
  disk: Disk,
  format: DiskFormat,
  options: VhdxOutput,
  output: Output & { interrupts: Interrupts },
): Promise<Record<string, unknown>> {
  const { destination, interrupts } = output;
  interrupts.report(() => `removed the unfinished copy; ${destination} was left as it was`);
  const bar = tracker(io, "convert", disk.size);
  const common = { ...output, command: "convert", label: "DST" };
  try {
    const report =
      format === "raw"
        ? {
            format: "raw",
            virtualSize: disk.size,
            dataBytes: await copyToFile(disk, 0, disk.size, destination, { ...common, done: bar.update }),
          }
        : await writeOutput(destination, common, (temporary) =>
            toVhdx(disk, temporary, options, output.sync, bar.update, interrupts.signal),
          );
    bar.finish();
    return report;
  } catch (error) {
    bar.abandon();
    throw error;
  }
}

/** Writes the disk into a new VHDX at `path`, closed when this resolves. */
async function toVhdx(
  disk: Disk,
  path: string,
  options: VhdxOutput,
  sync: boolean,
  done: (bytes: number) => void,
  stop: AbortSignal,
): Promise<Record<string, unknown>> {
  const source = disk.image;
  const logicalSectorSize = options.logicalSectorSize ?? (source?.logicalSectorSize as 512 | 4096 | undefined) ?? 512;
  const physicalSectorSize = options.physicalSectorSize ?? (source?.physicalSectorSize as 512 | 4096 | undefined);
  const blockSize = options.blockSize ?? source?.blockSize;
  const size = Math.ceil(disk.size / logicalSectorSize) * logicalSectorSize;
  if (size === 0)
    throw new VhdxError("INVALID_ARGUMENT", `convert: ${disk.path} is empty; a VHDX needs a virtual size above 0`);
  const image = await createVhdx(path, {
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
    await copyRange(disk, 0, disk.size, sink, done, stop);
    await copyUserItems(disk, image);
    await image.close();
  } catch (error) {
    await closeQuietly(image);
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
