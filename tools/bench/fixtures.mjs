// The images the cases run on, made by QEMU (qemu-img, qemu-io) so that our
// side never reads an image of its own making. Each is made the first time a
// case asks for it and kept until the run ends; index.mjs removes the folder.
import { execFileSync, spawnSync } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { join } from "node:path";

export const MiB = 2 ** 20;
export const GiB = 2 ** 30;
export const TiB = 2 ** 40;

/** Image sizes: the issue's, and smaller ones for a --quick smoke test. */
export const SIZES = {
  full: { full: GiB, sparseSmall: 16 * GiB, sparseLarge: 256 * GiB, sparseData: 64 * MiB, small: GiB, huge: 64 * TiB },
  quick: {
    full: 256 * MiB,
    sparseSmall: 4 * GiB,
    sparseLarge: 64 * GiB,
    sparseData: 64 * MiB,
    small: GiB,
    huge: 64 * TiB,
  },
};

/** Sparse images hold their data in this many whole blocks of this size, spread evenly over the disk. */
const SPARSE_BLOCK = 8 * MiB;

/** "1 GiB", "256 MiB", "64 TiB". */
export function formatSize(bytes) {
  for (const [unit, size] of [
    ["TiB", TiB],
    ["GiB", GiB],
    ["MiB", MiB],
  ]) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size} ${unit}`;
  }
  return `${bytes} B`;
}

const qemuImg = (...args) => execFileSync("qemu-img", args, { stdio: ["ignore", "ignore", "pipe"] });

/**
 * Lazily made fixtures in `dir`: `get(name)` returns the path of one, making it first if needed.
 * @param {string} dir
 * @param {typeof SIZES.full} sizes
 */
export function createFixtures(dir, sizes) {
  const made = new Map();
  const makers = {
    // Random bytes, so nothing is skipped as zeros and nothing compresses.
    randomRaw(path) {
      const fd = openSync(path, "w");
      try {
        const result = spawnSync("head", ["-c", String(sizes.full), "/dev/urandom"], { stdio: ["ignore", fd, "pipe"] });
        if (result.status !== 0) throw new Error(`head -c ${sizes.full} /dev/urandom failed: ${result.stderr}`);
      } finally {
        closeSync(fd);
      }
    },
    // Every block present and full of random data.
    fullVhdx(path) {
      qemuImg("convert", "-f", "raw", "-O", "vhdx", "-o", "subformat=dynamic,block_size=32M", get("randomRaw"), path);
    },
    sparseSmall: (path) => makeSparse(path, sizes.sparseSmall, sizes.sparseData),
    sparseLarge: (path) => makeSparse(path, sizes.sparseLarge, sizes.sparseData),
    // Empty dynamic images with 1 MiB blocks: only the virtual size (and so the BAT) differs.
    emptySmall: (path) =>
      qemuImg("create", "-f", "vhdx", "-o", "subformat=dynamic,block_size=1M", path, String(sizes.small)),
    emptyHuge: (path) =>
      qemuImg("create", "-f", "vhdx", "-o", "subformat=dynamic,block_size=1M", path, String(sizes.huge)),
  };

  /** @param {keyof typeof makers} name */
  function get(name) {
    if (!made.has(name)) {
      const path = join(dir, `${name}.${name.endsWith("Raw") ? "raw" : "vhdx"}`);
      process.stderr.write(`making fixture ${name}...\n`);
      makers[name](path);
      execFileSync("sync"); // written back now, not by the kernel in the middle of a timed run
      made.set(name, path);
    }
    return made.get(name);
  }
  return { get };
}

/** A dynamic image of `size` with `data` bytes written as whole 8 MiB blocks spread evenly over it. */
function makeSparse(path, size, data) {
  qemuImg("create", "-f", "vhdx", "-o", `subformat=dynamic,block_size=${SPARSE_BLOCK}`, path, String(size));
  const blocks = data / SPARSE_BLOCK;
  const writes = [];
  for (let i = 0; i < blocks; i++) {
    const offset = Math.floor((i * size) / blocks / SPARSE_BLOCK) * SPARSE_BLOCK;
    writes.push("-c", `write -P 0x${(0x11 * ((i % 15) + 1)).toString(16)} ${offset} ${SPARSE_BLOCK}`);
  }
  execFileSync("qemu-io", ["-f", "vhdx", ...writes, path], { stdio: ["ignore", "ignore", "pipe"] });
}
