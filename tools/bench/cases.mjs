// What is timed: each case is one of our commands (or a library call in its
// own process) and the peer a user would run instead, on the same image.
// Targets come from the performance issues (the second round: issue 18); a
// case without one is there to show how cost grows with the work (see GROWTH)
// or to show the start-up floor.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { crc32cRates } from "./crc32c.mjs";
import { SIZES, SPARSE_CHUNK, formatSize } from "./fixtures.mjs";

const LIBRARY = fileURLToPath(new URL("./library.mjs", import.meta.url));
const NBD_SERVE = fileURLToPath(new URL("./nbd-serve.mjs", import.meta.url));

/** Random-read pattern: 4 KiB reads, each a prime number of 4 KiB pages past the last (mod the size). */
const READ_STEP = 104729 * 4096;
const READ_COUNT = 100_000;

/**
 * @typedef {[string, string[]]} CommandLine
 * @typedef {object} Target  every field present must hold for the target to be met
 * @property {number} [ratio]       ours / peer (time) at most this
 * @property {number} [goal]        the ratio the issue hopes for (reported, not required)
 * @property {number} [rssMiB]      our peak RSS below this
 * @property {number} [minRate]     our throughput at least this many bytes per second
 * @property {number} [minSpeedup]  our throughput at least this many times the peer's
 * @typedef {object} Case
 * @property {string} id
 * @property {string} what    our side, in words
 * @property {string | null} peer  the peer's command, in words
 * @property {Target | null} target
 * @property {string | null} [skip]  why the case does not run here (e.g. "--quick")
 * @property {"disk" | "tmpfs"} [place]  where the fixtures and the output are (disk unless said)
 * @property {number} [tmpfsBytes]  what a tmpfs case holds there at once (its fixture and output)
 * @property {string[]} [fixtures]  made before the case, removed after the last case that needs them
 * @property {(out: string) => CommandLine} [ours]
 * @property {((out: string) => CommandLine) | null} [theirs]
 * @property {string} [output]  the extension of an output file, removed before and after each run
 * @property {(out: string) => void} [prepare]  makes the output file before each run, untimed (for in-place writes)
 * @property {number} [maxAllocated]  fail when an output takes more disk than this (a sparse output that is not)
 * @property {{ ours: (stdout: string) => number, theirs?: (stdout: string) => number }} [inner]  the time a side reports itself
 * @property {() => { ours: number, peer: number }} [rates]  a throughput case: bytes per second of each side
 */

/**
 * Pairs of cases whose ratio (large / small, of our medians) shows how cost
 * grows with the image; `target`, when set, is the most that ratio may be.
 */
export const GROWTH = [
  { small: "info-small", large: "info-huge", what: "info: same cost whatever the virtual size" },
  { small: "open-small", large: "open-huge", what: "open: same cost whatever the virtual size" },
  {
    small: "convert-raw-sparse-small",
    large: "convert-raw-sparse",
    what: "convert -O raw: cost follows the data (64 MiB in both), not the virtual size",
  },
  {
    small: "convert-vhdx-sparse-small",
    large: "convert-vhdx-sparse-large",
    what: "convert -O vhdx of a sparse raw file: cost follows the data (64 MiB in both), not the size",
    target: 1.5,
  },
  { small: "check-small", large: "check-huge", what: "check: reads every BAT entry, so it grows with the BAT" },
];

/**
 * @param {{ vhdx: string[], sizes: typeof import("./fixtures.mjs").SIZES.full, fixture: (name: string) => string }} context
 * @returns {Case[]}
 */
export function defineCases({ vhdx, sizes, fixture }) {
  const [node, bin] = vhdx;
  const ours = (...args) => [node, [bin, ...args]];
  const huge = `${formatSize(sizes.huge)} dynamic VHDX, 1 MiB blocks (${formatSize(sizes.huge / 2 ** 17)} BAT)`;
  const small = `${formatSize(sizes.small)} dynamic VHDX, 1 MiB blocks`;
  const readCount = Math.min(READ_COUNT, sizes.full / 4096);
  const innerMs = (stdout) => JSON.parse(stdout).ms;
  /** Scattered 4 KiB reads through the library (library.mjs MODE), against qemu-img bench's. */
  const readRandomCase = (id, mode, how) => ({
    id,
    what: `${readCount} scattered 4 KiB reads, depth 1, @vhdx/image \`readInto\`, ${formatSize(sizes.full)} fully allocated VHDX (time of the reads alone; ${how})`,
    peer: `qemu-img bench -f vhdx -c ${readCount} -d 1 -s 4K -S ${READ_STEP}`,
    target: { ratio: 0.8 },
    fixtures: ["fullVhdx"],
    ours: () => [node, [LIBRARY, mode, fixture("fullVhdx"), String(readCount), String(READ_STEP)]],
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
    inner: { ours: innerMs, theirs: qemuBenchMs },
  });
  return [
    {
      id: "startup",
      what: "`vhdx --version` (start-up floor of every command)",
      peer: "qemu-img --version",
      target: null,
      ours: () => ours("--version"),
      theirs: () => qemu("--version"),
    },
    ...convertToRawCases("convert-raw-full", "fullVhdx", sizes.full),
    // Before the random raw file's last use (convert-vhdx-random), which the 8 GiB image is made of.
    ...convertToRawCases("convert-raw-full-8g", "bigVhdx", sizes.big ?? SIZES.full.big, sizes.big === null),
    ...convertToVhdxCases(),
    ...sparseToRawCases(),
    ...sparseRawToVhdxCases(),
    {
      id: "info-huge",
      what: `\`vhdx info --json\`, ${huge}`,
      peer: "qemu-img info --output=json",
      target: { ratio: 0.25, rssMiB: 64 },
      fixtures: ["emptyHuge"],
      ours: () => ours("info", "--json", fixture("emptyHuge")),
      theirs: () => qemu("info", "-f", "vhdx", "--output=json", fixture("emptyHuge")),
    },
    {
      id: "info-small",
      what: `\`vhdx info --json\`, ${small}`,
      peer: "qemu-img info --output=json",
      target: null,
      fixtures: ["emptySmall"],
      ours: () => ours("info", "--json", fixture("emptySmall")),
      theirs: () => qemu("info", "-f", "vhdx", "--output=json", fixture("emptySmall")),
    },
    {
      id: "check-huge",
      what: `\`vhdx check\`, ${huge}`,
      peer: "qemu-img check",
      target: { ratio: 1, rssMiB: 128 },
      fixtures: ["emptyHuge"],
      ours: () => ours("check", fixture("emptyHuge")),
      theirs: () => qemu("check", "-f", "vhdx", fixture("emptyHuge")),
    },
    {
      id: "check-small",
      what: `\`vhdx check\`, ${small}`,
      peer: "qemu-img check",
      target: null,
      fixtures: ["emptySmall"],
      ours: () => ours("check", fixture("emptySmall")),
      theirs: () => qemu("check", "-f", "vhdx", fixture("emptySmall")),
    },
    {
      id: "read-huge",
      what: `\`vhdx read\` of 4 KiB at 1 TiB, ${huge} (the BAT is paged, not loaded)`,
      peer: "qemu-io -r -c 'read 1T 4k'",
      target: null,
      fixtures: ["emptyHuge"],
      ours: () => ours("read", "--offset", "1T", "--length", "4K", fixture("emptyHuge")),
      theirs: () => ["qemu-io", ["-f", "vhdx", "-r", "-c", "read 1T 4k", fixture("emptyHuge")]],
    },
    {
      id: "write-huge",
      what: `\`vhdx write\` of 4 KiB at 0, ${huge} with "not present" entries (a fresh sparse copy each run)`,
      peer: "qemu-io -c 'write -P 1 0 4k'",
      target: { ratio: 1, rssMiB: 128 },
      fixtures: ["emptyHugeHoles", "ones4k"],
      output: "vhdx",
      prepare: (out) => copySparse(fixture("emptyHugeHoles"), out),
      ours: (out) => ours("write", out, "--offset", "0", fixture("ones4k")),
      theirs: (out) => ["qemu-io", ["-f", "vhdx", "-c", "write -P 1 0 4k", out]],
    },
    {
      id: "map-huge",
      what: `\`vhdx map --json\`, ${huge} (qemu-img map refuses this image)`,
      peer: null,
      target: { rssMiB: 96 },
      fixtures: ["emptyHuge"],
      ours: () => ours("map", "--json", fixture("emptyHuge")),
      theirs: null,
    },
    {
      id: "open-huge",
      what: `\`openVhdx\` + \`close\` in @vhdx/image (in-process time), ${huge}`,
      peer: null,
      target: null,
      fixtures: ["emptyHuge"],
      ours: () => [node, [LIBRARY, "open", fixture("emptyHuge")]],
      theirs: null,
      inner: { ours: innerMs },
    },
    {
      id: "open-small",
      what: `\`openVhdx\` + \`close\` in @vhdx/image (in-process time), ${small}`,
      peer: null,
      target: null,
      fixtures: ["emptySmall"],
      ours: () => [node, [LIBRARY, "open", fixture("emptySmall")]],
      theirs: null,
      inner: { ours: innerMs },
    },
    ...serveCases(),
    readRandomCase("read-random", "read", "reads through Node's thread pool, the default"),
    readRandomCase("read-random-blocking", "read-blocking", "`blockingReadLimit: 65536`: reads on the main thread"),
    {
      id: "crc32c-64b",
      what: "CRC-32C, repeated calls on one 64-byte `Uint8Array` (packages/crc32c/bench, built @vhdx/crc32c)",
      peer: "hash-wasm",
      target: { minRate: 1.5e9 },
      rates: () => crc32cRates(64, "hash-wasm"),
    },
    {
      id: "crc32c-64k",
      what: "CRC-32C of 64 KiB (packages/crc32c/bench, built @vhdx/crc32c)",
      peer: "hash-wasm",
      target: { minSpeedup: 2 },
      rates: () => crc32cRates(65536, "hash-wasm"),
    },
  ];

  /** `vhdx serve` against `qemu-nbd -f vhdx` serving the same image, read by the same client (nbd-serve.mjs). */
  function serveCases() {
    const serving = (side, ...args) => [node, [NBD_SERVE, side, bin, fixture("fullVhdx"), ...args]];
    const image = `${formatSize(sizes.full)} fully allocated dynamic VHDX, served read-only on a Unix socket`;
    const random = ["random", String(readCount), String(READ_STEP)];
    return [
      {
        id: "serve-seq",
        what: `\`nbdcopy URI null:\` from \`vhdx serve\`, ${image} (time of the copy alone)`,
        peer: "the same from qemu-nbd -f vhdx -r -e 8",
        target: { ratio: 1.25 },
        fixtures: ["fullVhdx"],
        ours: () => serving("ours", "seq"),
        theirs: () => serving("qemu-nbd", "seq"),
        inner: { ours: innerMs, theirs: innerMs },
      },
      {
        id: "serve-random",
        what: `${readCount} scattered 4 KiB reads, depth 1, \`qemu-img bench -f raw\` from \`vhdx serve\`, ${image}`,
        peer: "the same from qemu-nbd -f vhdx -r -e 8",
        target: { ratio: 1.25 },
        fixtures: ["fullVhdx"],
        ours: () => serving("ours", ...random),
        theirs: () => serving("qemu-nbd", ...random),
        inner: { ours: innerMs, theirs: innerMs },
      },
    ];
  }

  /** `vhdx convert -O raw` of a fully allocated VHDX, on disk and on tmpfs. */
  function convertToRawCases(id, image, size, notInQuick = false) {
    return onDiskAndTmpfs(id, size, notInQuick ? "--quick" : null, (suffix) => ({
      what: `\`vhdx convert -O raw\`, ${formatSize(size)} fully allocated dynamic VHDX made by QEMU`,
      peer: "qemu-img convert -O raw",
      target: { ratio: 1, goal: 0.8 },
      fixtures: [image + suffix],
      output: "raw",
      ours: (out) => ours("convert", "-O", "raw", fixture(image + suffix), out),
      theirs: (out) => qemu("convert", "-f", "vhdx", "-O", "raw", fixture(image + suffix), out),
    }));
  }

  /** `vhdx convert -O vhdx` of random raw data, on disk and on tmpfs. */
  function convertToVhdxCases() {
    return onDiskAndTmpfs("convert-vhdx-random", sizes.full, null, (suffix) => ({
      what: `\`vhdx convert -O vhdx\`, ${formatSize(sizes.full)} raw file of random data (32 MiB blocks)`,
      peer: "qemu-img convert -O vhdx",
      target: { ratio: 1, goal: 0.8 },
      fixtures: [`randomRaw${suffix}`],
      output: "vhdx",
      ours: (out) =>
        ours("convert", "-f", "raw", "-O", "vhdx", "--block-size", "32M", fixture(`randomRaw${suffix}`), out),
      theirs: (out) =>
        qemu(
          "convert",
          "-f",
          "raw",
          "-O",
          "vhdx",
          "-o",
          "subformat=dynamic,block_size=32M",
          fixture(`randomRaw${suffix}`),
          out,
        ),
    }));
  }

  /** `vhdx convert -O raw` of sparse dynamic VHDX images: the output must keep its holes. */
  function sparseToRawCases() {
    const sparse = (size) => `${formatSize(size)} dynamic VHDX holding ${formatSize(sizes.sparseData)} (8 MiB blocks)`;
    const toRaw = (id, name, size, target) => ({
      id,
      what: `\`vhdx convert -O raw\`, ${sparse(size)}`,
      peer: "qemu-img convert -O raw",
      target,
      fixtures: [name],
      output: "raw",
      maxAllocated: 2 * sizes.sparseData,
      ours: (out) => ours("convert", "-O", "raw", fixture(name), out),
      theirs: (out) => qemu("convert", "-f", "vhdx", "-O", "raw", fixture(name), out),
    });
    return [
      toRaw("convert-raw-sparse", "sparseLarge", sizes.sparseLarge, { ratio: 0.05 }),
      toRaw("convert-raw-sparse-small", "sparseSmall", sizes.sparseSmall, null),
    ];
  }

  /** `vhdx convert -O vhdx` of sparse raw files holding the same data: the cost should follow the data. */
  function sparseRawToVhdxCases() {
    const blockSize = `${SPARSE_CHUNK / 2 ** 20}M`; // the data's chunks, so each fills one block
    const toVhdx = (id, name, size, target, quickSkips = false) => ({
      id,
      what: `\`vhdx convert -O vhdx\`, ${formatSize(size)} sparse raw file holding ${formatSize(sizes.sparseData)} (${formatSize(SPARSE_CHUNK)} blocks)`,
      peer: "qemu-img convert -O vhdx",
      target,
      skip: quickSkips ? "--quick" : null,
      fixtures: [name],
      output: "vhdx",
      maxAllocated: 2 * sizes.sparseData,
      ours: (out) => ours("convert", "-f", "raw", "-O", "vhdx", "--block-size", blockSize, fixture(name), out),
      theirs: (out) =>
        qemu(
          "convert",
          "-f",
          "raw",
          "-O",
          "vhdx",
          "-o",
          `subformat=dynamic,block_size=${blockSize}`,
          fixture(name),
          out,
        ),
    });
    return [
      toVhdx("convert-vhdx-sparse-small", "sparseRawSmall", sizes.sparseRawSmall, null),
      toVhdx(
        "convert-vhdx-sparse-mid",
        "sparseRawMid",
        sizes.sparseRawMid ?? SIZES.full.sparseRawMid,
        null,
        sizes.sparseRawMid === null,
      ),
      toVhdx("convert-vhdx-sparse-large", "sparseRawLarge", sizes.sparseRawLarge, { ratio: 3 }),
    ];
  }
}

const qemu = (...args) => ["qemu-img", args];

/** The disk case `id` and its twin `id-tmpfs`, whose fixtures and output live on tmpfs. */
function onDiskAndTmpfs(id, size, skip, define) {
  const [disk, tmpfs] = [define(""), define("Tmpfs")];
  return [
    { ...disk, id, skip, what: `${disk.what}, on disk` },
    { ...tmpfs, id: `${id}-tmpfs`, skip, what: `${tmpfs.what}, on tmpfs`, place: "tmpfs", tmpfsBytes: 2 * size },
  ];
}

/** `qemu-img bench` prints "Run completed in N seconds." */
function qemuBenchMs(stdout) {
  const match = /Run completed in ([\d.]+) seconds/.exec(stdout);
  if (!match) throw new Error(`no "Run completed" line from qemu-img bench: ${stdout}`);
  return Number(match[1]) * 1000;
}

/** A copy that keeps the holes (GNU cp finds them with SEEK_DATA): milliseconds for a mostly empty image. */
function copySparse(from, to) {
  execFileSync("cp", ["--sparse=always", from, to]);
  // On disk, the copy's writeback (512 MiB of BAT for the huge image) would otherwise land in the timed run.
  execFileSync("sync", ["--data", to]);
}
