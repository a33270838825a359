// Every subcommand, loaded only when it runs: `vhdx info` does not pay for
// the code of `vhdx convert`.
import type { Command } from "../command.js";
import type { CommandName } from "../command-names.js";

export interface CommandEntry {
  name: CommandName;
  summary: string;
  load(): Promise<Command>;
}

export const COMMANDS: CommandEntry[] = [
  {
    name: "info",
    summary: "show what an image is: type, sizes, identity, log, regions, metadata, parents",
    load: async () => (await import("./info.js")).info,
  },
  {
    name: "check",
    summary: "check every structural rule; --repair replays a log and fixes what is safe",
    load: async () => (await import("./check.js")).check,
  },
  {
    name: "create",
    summary: "create a fixed, dynamic or differencing image",
    load: async () => (await import("./create.js")).create,
  },
  {
    name: "convert",
    summary: "convert between VHDX and raw, or flatten a differencing chain",
    load: async () => (await import("./convert.js")).convert,
  },
  {
    name: "map",
    summary: "list the extents of the virtual disk: data, zeros, parent",
    load: async () => (await import("./map.js")).map,
  },
  {
    name: "compare",
    summary: "compare two virtual disks (VHDX or raw) byte for byte",
    load: async () => (await import("./compare.js")).compare,
  },
  {
    name: "cat",
    summary: "write the whole virtual disk to stdout (or -o a file)",
    load: async () => (await import("./cat.js")).cat,
  },
  { name: "read", summary: "read a range of the virtual disk", load: async () => (await import("./read.js")).read },
  {
    name: "write",
    summary: "write a file or stdin into the virtual disk",
    load: async () => (await import("./write.js")).write,
  },
  {
    name: "resize",
    summary: "grow an image, or shrink it when nothing is lost",
    load: async () => (await import("./resize.js")).resize,
  },
  {
    name: "discard",
    summary: "free a range of the virtual disk (TRIM); parts of blocks read as zeros",
    load: async () => (await import("./discard.js")).discard,
  },
  {
    name: "measure",
    summary: "the file size a convert or create would make (qemu-img measure)",
    load: async () => (await import("./measure.js")).measure,
  },
  {
    name: "compact",
    summary: "free all-zero blocks and shrink the file, contents unchanged",
    load: async () => (await import("./compact.js")).compact,
  },
  {
    name: "merge",
    summary: "merge a differencing disk into its parent (Merge-VHD); the child is removed unless --keep",
    load: async () => (await import("./merge.js")).merge,
  },
  {
    name: "metadata",
    summary: "list, read, set and remove the user metadata items of an image",
    load: async () => (await import("./metadata.js")).metadata,
  },
  {
    name: "set-parent",
    summary: "point a differencing disk at its moved parent (Set-VHD -ParentPath)",
    load: async () => (await import("./set-parent.js")).setParent,
  },
  {
    name: "set",
    summary: "a new virtual disk ID, or another physical sector size (Set-VHD)",
    load: async () => (await import("./set.js")).set,
  },
  {
    name: "serve",
    summary: "serve the virtual disk over NBD (nbd-client, QEMU, nbdcopy), a differencing chain included",
    load: async () => (await import("./serve.js")).serve,
  },
  {
    name: "demo",
    summary: "a tour on a small image in a temporary folder, leaving nothing behind",
    load: async () => (await import("./demo.js")).demo,
  },
];
