// vhdx create: a new fixed, dynamic or differencing image, laid out as
// Windows lays them out.
import { stat } from "node:fs/promises";
import { dirname, isAbsolute, relative, resolve } from "node:path";
import { type CreateVhdxOptions, createVhdx } from "@vhdx/image/node";
import { CHAIN_OPTIONS, type Command, EXIT_OK, parseCommandArgs, usageError } from "../command.js";
import { runInterruptible } from "../interrupt.js";
import { writeJson, writeLine } from "../io.js";
import { writeOutput } from "../output-file.js";
import { formatSize, parseLayoutOptions, parseSize } from "../sizes.js";

const HELP = `Usage: vhdx create [-t fixed|dynamic|differencing] [--block-size S] [--preallocation off|falloc|full]
                   [--logical-sector-size 512|4096] [--physical-sector-size 512|4096]
                   [--parent PARENT [--confine-parents]] [--json] FILE [SIZE]

Creates a VHDX image. A dynamic image (the default) grows as it is written; a
fixed one has every block allocated; a differencing one records only what
differs from PARENT, and takes its size and sector sizes from it. The file
must not exist yet.

A fixed image's blocks get their space on the file system, as New-VHD -Fixed
does: --preallocation falloc (the default) reserves it at once (with
fallocate; where that is unavailable, zeros are written, which takes as long
as writing the whole disk); full writes zeros; off leaves a sparse file that
takes space only as it is written (and may then fail for lack of it).

PARENT may be in any folder. The child's parent locator records PARENT's
path relative to the child's folder (relative_path, e.g. ..\\base\\b.vhdx,
tried first, so the pair can be moved together) and its absolute path
(absolute_win32_path: on WSL a /mnt/c/... path as C:\\...; elsewhere the path
as this host writes it).

The image is made as FILE.partial-<pid>-<random> in FILE's folder, closed,
and then renamed to FILE. If creating fails or is interrupted (Ctrl-C,
SIGTERM, SIGHUP), that file is removed and FILE is not created; the exit
status is 2 (an error) or 128 + the signal's number (130 for Ctrl-C).

Options:
  -t, --type TYPE               fixed, dynamic (default) or differencing
  --preallocation MODE          a fixed image's space: falloc (default), full or off
  --block-size S                1M to 256M, a power of two (default 32M; 1M for differencing)
  --logical-sector-size N       512 (default) or 4096
  --physical-sector-size N      512 or 4096 (default 4096)
  --parent PARENT               the parent of a differencing image (implies -t differencing)
  --confine-parents             refuse a PARENT outside FILE's folder, and a chain of
                                parents that leads outside each child's folder
  --json                        print what was created as JSON

Examples:
  vhdx create disk.vhdx 64G
  vhdx create -t fixed --block-size 2M small.vhdx 512M
  vhdx create -t fixed --preallocation off sparse.vhdx 100G
  vhdx create --parent base.vhdx child.vhdx`;

const OPTIONS = {
  type: { type: "string", short: "t" },
  "block-size": { type: "string" },
  "logical-sector-size": { type: "string" },
  "physical-sector-size": { type: "string" },
  parent: { type: "string" },
  preallocation: { type: "string" },
  json: { type: "boolean" },
  ...CHAIN_OPTIONS,
} as const;

export const create: Command = {
  name: "create",
  help: HELP,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs("create", args, OPTIONS, { min: 1, max: 2 });
    const type = values.type ?? (values.parent ? "differencing" : "dynamic");
    if (type !== "fixed" && type !== "dynamic" && type !== "differencing") {
      throw usageError("create", `-t takes fixed, dynamic or differencing, not ${JSON.stringify(type)}`);
    }
    if (type === "differencing" && values.parent === undefined)
      throw usageError("create", "a differencing image needs --parent");
    if (type !== "differencing" && positionals[1] === undefined)
      throw usageError("create", "give the SIZE of the new image (e.g. 64G)");
    const preallocation = values.preallocation ?? (type === "fixed" ? "falloc" : "off");
    if (preallocation !== "off" && preallocation !== "falloc" && preallocation !== "full")
      throw usageError("create", `--preallocation takes off, falloc or full, not ${JSON.stringify(preallocation)}`);
    if (preallocation !== "off" && type !== "fixed")
      throw usageError("create", `--preallocation is for -t fixed; a ${type} image allocates blocks as it is written`);
    const path = resolve(io.cwd, positionals[0]!);
    if (values.parent !== undefined && values["confine-parents"])
      refuseParentOutside(path, resolve(io.cwd, values.parent));
    const options: CreateVhdxOptions = {
      type,
      ...(positionals[1] === undefined ? {} : { size: parseSize(positionals[1], "SIZE") }),
      ...parseLayoutOptions(values),
      ...(values.parent === undefined ? {} : { parent: resolve(io.cwd, values.parent) }),
      allowParentOutsideTree: values["confine-parents"] !== true,
      ...(type === "fixed" ? { preallocation } : {}),
    };
    const created = await runInterruptible(io, (interrupts) => {
      interrupts.report(() => `removed the unfinished image; ${path} was not created`);
      const output = {
        replace: false,
        interrupts,
        command: "create",
        label: "FILE",
        whenExists: "vhdx create never replaces a file",
      };
      return writeOutput(path, output, (temporary) => createClosed(temporary, options));
    });
    if (typeof created === "number") return created;
    created.file = path;
    created.allocatedBytes = (await stat(path)).blocks * 512;
    if (values.json) writeJson(io, created);
    else
      writeLine(
        io.stdout,
        `created ${created.file}: ${created.diskType}, ${formatSize(created.virtualSize)}, ${formatSize(created.blockSize)} blocks${created.parent ? `, parent ${created.parent}` : ""}`,
      );
    return EXIT_OK;
  },
};

/** Creates the image at `path` and closes it; resolves to what --json reports (`file` is the caller's). */
async function createClosed(path: string, options: CreateVhdxOptions) {
  const image = await createVhdx(path, options);
  const created = {
    file: path,
    diskType: image.diskType,
    virtualSize: image.virtualSize,
    blockSize: image.blockSize,
    logicalSectorSize: image.logicalSectorSize,
    physicalSectorSize: image.physicalSectorSize,
    virtualDiskId: image.virtualDiskId,
    parent: image.parent?.source.name ?? null,
    preallocation: options.preallocation ?? "off",
    /** What the file takes on the file system (filled in after the rename). */
    allocatedBytes: 0,
  };
  await image.close();
  return created;
}

/** --confine-parents: the parent must be in the child's folder or below it. */
function refuseParentOutside(child: string, parent: string): void {
  const fromChild = relative(dirname(child), parent);
  if (fromChild.startsWith("..") || isAbsolute(fromChild)) {
    throw usageError("create", `--confine-parents: the parent ${parent} is outside the folder of ${child}`);
  }
}
