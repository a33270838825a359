// What is timed: each case is one of our commands (or a library call in its
// own process) and the peer a user would run instead, on the same image.
// Targets come from the performance issue; a case without one is there to show
// how cost grows with the work (see GROWTH) or to show the start-up floor.
import { fileURLToPath } from "node:url";
import { formatSize } from "./fixtures.mjs";

const library = fileURLToPath(new URL("./library.mjs", import.meta.url));

/** Random-read pattern: 4 KiB reads, each a prime number of 4 KiB pages past the last (mod the size). */
const READ_STEP = 104729 * 4096;
const READ_COUNT = 100_000;

/**
 * @typedef {[string, string[]]} CommandLine
 * @typedef {object} Case
 * @property {string} id
 * @property {string} what    our side, in words
 * @property {string | null} peer  the peer's command, in words
 * @property {{ ratio: number, rssMiB?: number } | null} target  ours / peer at most `ratio`; our peak RSS below `rssMiB`
 * @property {(out: string) => CommandLine} ours
 * @property {((out: string) => CommandLine) | null} theirs
 * @property {string} [output]  the extension of an output file, removed before and after each run
 * @property {number} [maxAllocated]  fail when an output takes more disk than this (a sparse output that is not)
 * @property {{ ours: (stdout: string) => number, theirs?: (stdout: string) => number }} [inner]  the time a side reports itself
 */

/** Pairs of cases whose ratio (large / small) shows how cost grows with the image. */
export const GROWTH = [
  ["info-small", "info-huge", "info: same cost whatever the virtual size"],
  ["open-small", "open-huge", "open: same cost whatever the virtual size"],
  [
    "convert-raw-sparse-small",
    "convert-raw-sparse",
    "convert -O raw: cost follows the data (64 MiB in both), not the virtual size",
  ],
  ["check-small", "check-huge", "check: reads every BAT entry, so it grows with the BAT"],
];

/**
 * @param {{ vhdx: string[], sizes: typeof import("./fixtures.mjs").SIZES.full, fixture: (name: string) => string }} context
 * @returns {Case[]}
 */
export function defineCases({ vhdx, sizes, fixture }) {
  const [node, bin] = vhdx;
  const ours = (...args) => [node, [bin, ...args]];
  const qemu = (...args) => ["qemu-img", args];
  const sparse = (size) => `${formatSize(size)} dynamic VHDX holding ${formatSize(sizes.sparseData)} (8 MiB blocks)`;
  const huge = `${formatSize(sizes.huge)} dynamic VHDX, 1 MiB blocks (${formatSize(sizes.huge / 2 ** 17)} BAT)`;
  const small = `${formatSize(sizes.small)} dynamic VHDX, 1 MiB blocks`;
  const readCount = Math.min(READ_COUNT, sizes.full / 4096);
  const innerMs = (stdout) => JSON.parse(stdout).ms;
  return [
    {
      id: "startup",
      what: "`vhdx --version` (start-up floor of every command)",
      peer: "qemu-img --version",
      target: null,
      ours: () => ours("--version"),
      theirs: () => qemu("--version"),
    },
    {
      id: "convert-raw-full",
      what: `\`vhdx convert -O raw\`, ${formatSize(sizes.full)} fully allocated dynamic VHDX made by QEMU`,
      peer: "qemu-img convert -O raw",
      target: { ratio: 1 },
      output: "raw",
      ours: (out) => ours("convert", "-O", "raw", fixture("fullVhdx"), out),
      theirs: (out) => qemu("convert", "-f", "vhdx", "-O", "raw", fixture("fullVhdx"), out),
    },
    {
      id: "convert-vhdx-random",
      what: `\`vhdx convert -O vhdx\`, ${formatSize(sizes.full)} raw file of random data (32 MiB blocks)`,
      peer: "qemu-img convert -O vhdx",
      target: { ratio: 1 },
      output: "vhdx",
      ours: (out) => ours("convert", "-f", "raw", "-O", "vhdx", "--block-size", "32M", fixture("randomRaw"), out),
      theirs: (out) =>
        qemu("convert", "-f", "raw", "-O", "vhdx", "-o", "subformat=dynamic,block_size=32M", fixture("randomRaw"), out),
    },
    {
      id: "convert-raw-sparse",
      what: `\`vhdx convert -O raw\`, ${sparse(sizes.sparseLarge)}`,
      peer: "qemu-img convert -O raw",
      target: { ratio: 0.05 },
      output: "raw",
      maxAllocated: 2 * sizes.sparseData,
      ours: (out) => ours("convert", "-O", "raw", fixture("sparseLarge"), out),
      theirs: (out) => qemu("convert", "-f", "vhdx", "-O", "raw", fixture("sparseLarge"), out),
    },
    {
      id: "convert-raw-sparse-small",
      what: `\`vhdx convert -O raw\`, ${sparse(sizes.sparseSmall)}`,
      peer: "qemu-img convert -O raw",
      target: null,
      output: "raw",
      maxAllocated: 2 * sizes.sparseData,
      ours: (out) => ours("convert", "-O", "raw", fixture("sparseSmall"), out),
      theirs: (out) => qemu("convert", "-f", "vhdx", "-O", "raw", fixture("sparseSmall"), out),
    },
    {
      id: "info-huge",
      what: `\`vhdx info --json\`, ${huge}`,
      peer: "qemu-img info --output=json",
      target: { ratio: 0.25, rssMiB: 64 },
      ours: () => ours("info", "--json", fixture("emptyHuge")),
      theirs: () => qemu("info", "-f", "vhdx", "--output=json", fixture("emptyHuge")),
    },
    {
      id: "info-small",
      what: `\`vhdx info --json\`, ${small}`,
      peer: "qemu-img info --output=json",
      target: null,
      ours: () => ours("info", "--json", fixture("emptySmall")),
      theirs: () => qemu("info", "-f", "vhdx", "--output=json", fixture("emptySmall")),
    },
    {
      id: "check-huge",
      what: `\`vhdx check\`, ${huge}`,
      peer: "qemu-img check",
      target: { ratio: 1, rssMiB: 128 },
      ours: () => ours("check", fixture("emptyHuge")),
      theirs: () => qemu("check", "-f", "vhdx", fixture("emptyHuge")),
    },
    {
      id: "check-small",
      what: `\`vhdx check\`, ${small}`,
      peer: "qemu-img check",
      target: null,
      ours: () => ours("check", fixture("emptySmall")),
      theirs: () => qemu("check", "-f", "vhdx", fixture("emptySmall")),
    },
    {
      id: "read-huge",
      what: `\`vhdx read\` of 4 KiB at 1 TiB, ${huge} (the BAT is paged, not loaded)`,
      peer: "qemu-io -r -c 'read 1T 4k'",
      target: null,
      ours: () => ours("read", "--offset", "1T", "--length", "4K", fixture("emptyHuge")),
      theirs: () => ["qemu-io", ["-f", "vhdx", "-r", "-c", "read 1T 4k", fixture("emptyHuge")]],
    },
    {
      id: "map-huge",
      what: `\`vhdx map --json\`, ${huge} (qemu-img map refuses this image)`,
      peer: null,
      target: null,
      ours: () => ours("map", "--json", fixture("emptyHuge")),
      theirs: null,
    },
    {
      id: "open-huge",
      what: `\`openVhdx\` + \`close\` in @vhdx/image (in-process time), ${huge}`,
      peer: null,
      target: null,
      ours: () => [node, [library, "open", fixture("emptyHuge")]],
      theirs: null,
      inner: { ours: innerMs },
    },
    {
      id: "open-small",
      what: `\`openVhdx\` + \`close\` in @vhdx/image (in-process time), ${small}`,
      peer: null,
      target: null,
      ours: () => [node, [library, "open", fixture("emptySmall")]],
      theirs: null,
      inner: { ours: innerMs },
    },
    {
      id: "read-random",
      what: `${readCount} scattered 4 KiB reads, depth 1, @vhdx/image \`readInto\`, ${formatSize(sizes.full)} fully allocated VHDX (time of the reads alone)`,
      peer: `qemu-img bench -f vhdx -c ${readCount} -d 1 -s 4K -S ${READ_STEP}`,
      target: null,
      ours: () => [node, [library, "read", fixture("fullVhdx"), String(readCount), String(READ_STEP)]],
      theirs: () =>
        qemu(
          "bench",
          "-f",
          "vhdx",
          "-c",
          String(readCount),
          "-d",
          "1",
          "-s",
          "4K",
          "-S",
          String(READ_STEP),
          fixture("fullVhdx"),
        ),
      inner: {
        ours: innerMs,
        theirs: (stdout) => {
          const match = /Run completed in ([\d.]+) seconds/.exec(stdout);
          if (!match) throw new Error(`no "Run completed" line from qemu-img bench: ${stdout}`);
          return Number(match[1]) * 1000;
        },
      },
    },
  ];
}
