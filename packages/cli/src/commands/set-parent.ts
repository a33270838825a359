// vhdx set-parent: point a differencing disk at its parent's new place
// (Set-VHD -ParentPath, qemu-img rebase -u); the parent locator is rewritten
// through the log.
import { resolve } from "node:path";
import { setVhdxParent } from "@vhdx/image/node";
import { CHAIN_OPTIONS, type Command, EXIT_OK, chainHelp, parseCommandArgs } from "../command.js";
import { announceOnSignal, runInterruptible } from "../interrupt.js";
import { printLine, warn, writeJson } from "../io.js";

const HELP = `Usage: vhdx set-parent [--ignore-id-mismatch] [--confine-parents] [--json]
                       CHILD PARENT

Rewrites the parent locator of the differencing disk CHILD so that it names
PARENT, after the parent was moved or renamed (Hyper-V's Set-VHD -ParentPath,
qemu-img rebase -u). The locator gets relative_path (from CHILD's folder,
"\\"-separated) and absolute_win32_path, as vhdx create writes them; a
volume_path, which only Windows can compute, is dropped. The change goes
through the log, so a crash leaves the old locator or the new one. CHILD's
data and DataWriteGuid do not change: its own children stay linked.

PARENT must be the disk CHILD was made on: its DataWriteGuid must be CHILD's
parent_linkage (PARENT_LINKAGE_MISMATCH otherwise, exit status 2), and its
size and logical sector size must be CHILD's (never overridden).

--ignore-id-mismatch (Hyper-V's IgnoreIdMismatch) takes a PARENT whose
DataWriteGuid differs and writes it as CHILD's parent_linkage. The risk: CHILD
holds only the sectors written to it; every other sector is read from PARENT.
If PARENT is not the very disk CHILD was made on, or was written to since,
the chain mixes two disks' data and its file systems may be silently corrupt.
After it, nothing can tell: the linkage vouches for the new parent.

Options:
  --ignore-id-mismatch  accept a PARENT whose DataWriteGuid is not the linkage
                        (see the risk above) and relink CHILD to it
  --json                print the old and new locator as JSON
${chainHelp(24)}

Examples:
  mv base.vhdx /disks/base.vhdx
  vhdx set-parent child.vhdx /disks/base.vhdx
  vhdx set-parent --ignore-id-mismatch child.vhdx restored-base.vhdx`;

export const setParent: Command = {
  name: "set-parent",
  help: HELP,
  async run(args, io) {
    const options = { "ignore-id-mismatch": { type: "boolean" }, json: { type: "boolean" }, ...CHAIN_OPTIONS } as const;
    const { values, positionals } = parseCommandArgs("set-parent", args, options, { min: 2, max: 2 });
    const child = resolve(io.cwd, positionals[0]!);
    const parent = resolve(io.cwd, positionals[1]!);
    const ignoreIdMismatch = values["ignore-id-mismatch"] === true;
    return runInterruptible(io, async (interrupts) => {
      announceOnSignal(io, interrupts, "finishing the change of the parent locator first");
      const result = await setVhdxParent(child, parent, {
        ignoreIdMismatch,
        allowParentOutsideTree: values["confine-parents"] !== true,
      });
      interrupts.report(() => `the parent locator of ${child} was rewritten first`);
      interrupts.signal.throwIfAborted();
      if (result.linkageChanged) {
        warn(
          io,
          `${parent} is not the disk ${child} was made on (DataWriteGuid ${result.newLocator.parent_linkage}, the linkage was ${result.oldLocator.parent_linkage}); it is now its parent: sectors the child did not write read from it`,
        );
      }
      if (values.json) writeJson(io, { child, parent, ...result });
      else {
        printLine(io, `${child} now names ${parent} as its parent${result.linkageChanged ? " (relinked)" : ""}`);
        for (const [key, value] of Object.entries(result.newLocator)) printLine(io, `  ${key}: ${value}`);
      }
      return EXIT_OK;
    });
  },
};
