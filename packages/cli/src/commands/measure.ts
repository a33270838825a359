// vhdx measure: the size of the file a `vhdx convert` of SRC (or a `vhdx
// create` of --size) would make, like qemu-img measure: "required" with the
// blocks that hold data, "fully allocated" with every block.
import { type Measurement, countDataBlocks, measureImage } from "@vhdx/image";
import {
  type Command,
  EXIT_OK,
  READ_ACCESS_OPTIONS,
  imageAccess,
  parseCommandArgs,
  readAccessHelp,
  usageError,
} from "../command.js";
import { dataExtents } from "../copy.js";
import { type Disk, openDisk, parseFormat } from "../disk.js";
import { runInterruptible } from "../interrupt.js";
import { writeJson, writeLine } from "../io.js";
import { formatSize, parseLayoutOptions, parseSize } from "../sizes.js";

const HELP = `Usage: vhdx measure [-f vhdx|raw] [-O vhdx|raw] [-t fixed|dynamic] [--block-size S]
                    [--logical-sector-size 512|4096] [--no-zero-scan] [-U]
                    [--confine-parents] [--json] (--size N | SRC)

Prints the size of the file that "vhdx convert SRC DST" (with the same -O,
-t, --block-size and --logical-sector-size) would make, or "vhdx create" of
--size N bytes, like qemu-img measure:

  required         the file with the blocks that hold data allocated
                   (for -t fixed, and for --size, every block of a fixed image,
                   and no block of a dynamic one)
  fully allocated  the file with every block allocated (a fixed image)

SRC is read as convert reads it (a differencing VHDX through its parents; a
raw file, or a VHDX whose file is given with -f), and only its data: blocks
of zeros are never read. Within the data, blocks that hold only zeros are
left out of "required", as convert leaves them unallocated; finding them reads
the data. --no-zero-scan skips that and counts every block the data touches:
faster, and then an upper bound, as qemu-img measure's answer is. -O raw
answers the raw file's size (the virtual size, written sparse).

Options:
  --size N                     measure a new image of N bytes (create) instead of SRC
  -f, --format FORMAT          SRC's format: vhdx or raw (default: found from its signature)
${readAccessHelp(31)}
  -O, --output-format FORMAT   vhdx (default) or raw
  -t, --type TYPE              dynamic (default) or fixed
  --block-size S               1M to 256M (default: SRC's, or 32M)
  --logical-sector-size N      512 or 4096 (default: SRC's, or 512)
  --no-zero-scan               count blocks the data touches, without reading it
  --json                       print the sizes as JSON

Examples:
  vhdx measure disk.raw
  vhdx measure --json -t fixed --size 64G
  vhdx measure --block-size 1M child.vhdx`;

const OPTIONS = {
  size: { type: "string" },
  format: { type: "string", short: "f" },
  "output-format": { type: "string", short: "O" },
  type: { type: "string", short: "t" },
  "block-size": { type: "string" },
  "logical-sector-size": { type: "string" },
  "no-zero-scan": { type: "boolean" },
  json: { type: "boolean" },
  ...READ_ACCESS_OPTIONS,
} as const;

interface Answer {
  format: "vhdx" | "raw";
  virtualSize: number;
  required: number;
  fullyAllocated: number;
  /** VHDX only. */
  measurement?: Measurement;
}

export const measure: Command = {
  name: "measure",
  help: HELP,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs("measure", args, OPTIONS, { min: 0, max: 1 });
    if ((values.size === undefined) === (positionals.length === 0))
      throw usageError("measure", "give either SRC or --size N, not both");
    const format = parseFormat(values["output-format"], "-O") ?? "vhdx";
    const type = values.type ?? "dynamic";
    if (type !== "fixed" && type !== "dynamic")
      throw usageError("measure", `-t takes fixed or dynamic, not ${JSON.stringify(type)}`);
    const layout = parseLayoutOptions(values);
    const answer = await runInterruptible(io, async () => {
      if (values.size !== undefined) {
        const size = parseSize(values.size, "--size");
        return answerFor(format, size, () => measureImage({ size, type, ...layout }));
      }
      const disk = await openDisk(positionals[0]!, io, parseFormat(values.format, "-f"), imageAccess(values));
      try {
        return await measureDisk(disk, format, type, layout, values["no-zero-scan"] !== true);
      } finally {
        await disk.close();
      }
    });
    if (typeof answer === "number") return answer;
    if (values.json) writeJson(io, jsonOf(answer));
    else {
      writeLine(io.stdout, `required size: ${answer.required} (${formatSize(answer.required)})`);
      writeLine(io.stdout, `fully allocated size: ${answer.fullyAllocated} (${formatSize(answer.fullyAllocated)})`);
    }
    return EXIT_OK;
  },
};

async function measureDisk(
  disk: Disk,
  format: "vhdx" | "raw",
  type: "fixed" | "dynamic",
  layout: { blockSize?: number; logicalSectorSize?: 512 | 4096 },
  scanZeros: boolean,
): Promise<Answer> {
  // The size and defaults convert uses: SRC's sector and block size, the size padded to a whole sector.
  const logicalSectorSize =
    layout.logicalSectorSize ?? (disk.image?.logicalSectorSize as 512 | 4096 | undefined) ?? 512;
  const blockSize = layout.blockSize ?? disk.image?.blockSize;
  const size = Math.ceil(disk.size / logicalSectorSize) * logicalSectorSize;
  const options = { size, type, logicalSectorSize, ...(blockSize === undefined ? {} : { blockSize }) };
  if (format === "raw") return answerFor(format, disk.size, () => measureImage(options));
  const empty = measureImage(options);
  const read = scanZeros ? (buffer: Uint8Array, offset: number) => disk.readInto(buffer, offset) : undefined;
  const allocatedBlocks =
    type === "fixed" ? 0 : await countDataBlocks(dataExtents(disk, 0, disk.size), empty.blockSize, read);
  return answerFor(format, size, () => measureImage({ ...options, allocatedBlocks }));
}

function answerFor(format: "vhdx" | "raw", size: number, vhdx: () => Measurement): Answer {
  if (format === "raw") return { format, virtualSize: size, required: size, fullyAllocated: size };
  const measurement = vhdx();
  const { required, fullyAllocated } = measurement;
  return { format, virtualSize: size, required, fullyAllocated, measurement };
}

function jsonOf({ format, virtualSize, required, fullyAllocated, measurement }: Answer) {
  if (measurement === undefined) return { format, virtualSize, required, fullyAllocated };
  const { blockSize, blockCount, allocatedBlocks, overhead } = measurement;
  return { format, virtualSize, required, fullyAllocated, blockSize, blockCount, allocatedBlocks, overhead };
}
