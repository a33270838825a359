// vhdx set: what Set-VHD changes besides the parent: a new Virtual Disk ID
// and the physical sector size; system metadata items rewritten through the log.
import { resolve } from "node:path";
import { setVhdxProperties } from "@vhdx/image/node";
import { type Command, EXIT_OK, parseCommandArgs, usageError } from "../command.js";
import { announceOnSignal, runInterruptible } from "../interrupt.js";
import { printLine, writeJson } from "../io.js";

const HELP = `Usage: vhdx set [--reset-disk-id] [--physical-sector-size 512|4096] [--json]
                FILE

Changes an image's identity and what it tells the guest about its sectors,
as Hyper-V's Set-VHD does:
  --reset-disk-id           a new random Virtual Disk ID
                            (-ResetDiskIdentifier), for a copy that must not
                            pass for the original
  --physical-sector-size N  512 or 4096 (-PhysicalSectorSizeBytes), at least
                            the logical sector size, which never changes

The change goes through the log, so a crash leaves the old or the new value.
The disk's data and DataWriteGuid do not change: differencing children stay
linked (they keep the Virtual Disk ID they were made with).

Options:
  --json    print the old and new values as JSON

Examples:
  vhdx set --reset-disk-id copy.vhdx
  vhdx set --physical-sector-size 4096 disk.vhdx`;

export const set: Command = {
  name: "set",
  help: HELP,
  async run(args, io) {
    const options = {
      "reset-disk-id": { type: "boolean" },
      "physical-sector-size": { type: "string" },
      json: { type: "boolean" },
    } as const;
    const { values, positionals } = parseCommandArgs("set", args, options, { min: 1, max: 1 });
    const text = values["physical-sector-size"];
    if (values["reset-disk-id"] !== true && text === undefined)
      throw usageError("set", "nothing to change: give --reset-disk-id and/or --physical-sector-size");
    if (text !== undefined && text !== "512" && text !== "4096")
      throw usageError("set", `--physical-sector-size is 512 or 4096, got ${JSON.stringify(text)}`);
    const path = resolve(io.cwd, positionals[0]!);
    return runInterruptible(io, async (interrupts) => {
      announceOnSignal(io, interrupts, "finishing the change first");
      const result = await setVhdxProperties(path, {
        resetDiskId: values["reset-disk-id"] === true,
        ...(text === undefined ? {} : { physicalSectorSize: Number(text) as 512 | 4096 }),
      });
      interrupts.report(() => `the change of ${path} was finished first`);
      interrupts.signal.throwIfAborted();
      if (values.json) writeJson(io, { file: path, ...result });
      else {
        const { virtualDiskId: id, physicalSectorSize: sectors } = result;
        printLine(io, `${path}:`);
        printLine(io, `  virtual disk id: ${id.old === id.new ? id.new : `${id.old} -> ${id.new}`}`);
        printLine(
          io,
          `  physical sector size: ${sectors.old === sectors.new ? sectors.new : `${sectors.old} -> ${sectors.new}`}`,
        );
      }
      return EXIT_OK;
    });
  },
};
