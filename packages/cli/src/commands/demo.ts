// vhdx demo: a tour for a newcomer on a small image in a temporary folder:
// create a dynamic disk and a differencing child, write to both, read back
// through the chain, show info, map and check. Leaves nothing behind.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createVhdx, openVhdx } from "@vhdx/image/node";
import { type Command, EXIT_ERROR, EXIT_OK, parseCommandArgs } from "../command.js";
import { type CliIO, writeLine } from "../io.js";
import { check } from "./check.js";
import { info } from "./info.js";
import { map } from "./map.js";

const HELP = `Usage: vhdx demo

Creates a 64 MiB dynamic VHDX and a differencing child of it in a temporary
folder, writes to both, reads the child back (its own data and its parent's
through it), shows vhdx info, map and check on the child, and deletes the
folder. It writes nothing where you run it.

Example:
  vhdx demo`;

const MiB = 1 << 20;
const text = (value: string) => new TextEncoder().encode(value);

export const demo: Command = {
  name: "demo",
  help: HELP,
  async run(args, io) {
    parseCommandArgs("demo", args, {}, { min: 0, max: 0 });
    const folder = await mkdtemp(join(tmpdir(), "vhdx-demo-"));
    try {
      return await tour(folder, io);
    } finally {
      await rm(folder, { recursive: true, force: true });
      writeLine(io.stdout, `\nremoved ${folder}`);
    }
  },
};

async function tour(folder: string, io: CliIO): Promise<number> {
  const say = (line = "") => writeLine(io.stdout, line);
  const basePath = join(folder, "base.vhdx");
  const childPath = join(folder, "child.vhdx");

  say(`$ vhdx create --block-size 1M ${basePath} 64M`);
  const base = await createVhdx(basePath, { size: 64 * MiB, blockSize: MiB });
  await base.write(0, text("Hello from the base disk.\n"));
  await base.write(10 * MiB, new Uint8Array(3 * MiB).fill(0xab));
  await base.close();
  say(`wrote 26 bytes at 0 and 3 MiB at 10 MiB of the base, and closed it`);

  say(`\n$ vhdx create --parent base.vhdx ${childPath}`);
  const child = await createVhdx(childPath, { type: "differencing", parent: basePath });
  await child.write(11 * MiB + 512, text("The child changed this sector; the rest of the block is the base's.\n"));
  await child.write(40 * MiB, new Uint8Array(MiB).fill(0xcd));
  await child.close();
  say(`wrote one sector inside the base's data and 1 MiB at 40 MiB of the child`);

  const reopened = await openVhdx(childPath);
  const greeting = new TextDecoder().decode(await reopened.read(0, 26));
  const changed = new TextDecoder().decode(await reopened.read(11 * MiB + 512, 68));
  const around = await reopened.read(11 * MiB, 512);
  await reopened.close();
  say(`\nread through the child:`);
  say(`  at 0 (from the base):      ${JSON.stringify(greeting)}`);
  say(`  at 11 MiB + 512 (child):   ${JSON.stringify(changed)}`);
  say(`  at 11 MiB (base, untouched by the child's write): all 0xab: ${around.every((b) => b === 0xab)}`);

  // The commands themselves rather than runCli, which loads this module: an
  // error goes up to the runCli that runs the demo, which reports it.
  for (const command of [info, map, check]) {
    say(`\n$ vhdx ${command.name} ${childPath}`);
    const status = await command.run([childPath], io);
    if (status === EXIT_ERROR) return EXIT_ERROR;
  }
  return EXIT_OK;
}
