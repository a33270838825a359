// The files the cases run on. The VHDX images are made by QEMU (qemu-img,
// qemu-io) so that our side never reads an image of its own making; the raw
// files are random bytes or a sparse file made with ftruncate and a few
// pwrites (what `truncate` and `dd` do). Each is made the first time a case
// asks for it, on disk or (names ending in "Tmpfs") on tmpfs as a copy of the
// disk one, and removed by `release` after the last case that uses it, so a
// run never holds more than it needs at once; index.mjs removes both folders.
import { execFileSync, spawnSync } from "node:child_process";
import { closeSync, ftruncateSync, openSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";

export const MiB = 2 ** 20;
export const GiB = 2 ** 30;
export const TiB = 2 ** 40;

/**
 * Sizes: the issue's, and smaller ones for a --quick smoke test. `big` is the
 * convert size where start-up no longer matters and `sparseRawMid` the issue's
 * 20 GiB raw file; null means the cases on it are skipped.
 */
export const SIZES = {
  full: {
    full: GiB,
    big: 8 * GiB,
    sparseSmall: 16 * GiB,
    sparseLarge: 256 * GiB,
    sparseData: 64 * MiB,
    sparseRawSmall: GiB,
    sparseRawMid: 20 * GiB,
    sparseRawLarge: 256 * GiB,
    small: GiB,
    huge: 64 * TiB,
  },
  quick: {
    full: 256 * MiB,
    big: null,
    sparseSmall: 4 * GiB,
    sparseLarge: 64 * GiB,
    sparseData: 64 * MiB,
    sparseRawSmall: GiB,
    sparseRawMid: null,
    sparseRawLarge: 4 * GiB,
    small: GiB,
    huge: 64 * TiB,
  },
};

/** Sparse files hold their data in whole chunks of this size, spread evenly over the disk. */
export const SPARSE_CHUNK = 8 * MiB;

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
const TMPFS_SUFFIX = "Tmpfs";

/**
 * Lazily made fixtures: `get(name)` returns the path of one, making it first if
 * needed; `release(name)` removes it. Names ending in "Tmpfs" live in `dirs.tmpfs`.
 * @param {{ disk: string, tmpfs: string | null }} dirs
 * @param {typeof SIZES.full} sizes
 */
export function createFixtures(dirs, sizes) {
  const made = new Map();
  const makers = {
    // Random bytes, so nothing is skipped as zeros and nothing compresses.
    randomRaw: (path) => pipeInto(path, "head", ["-c", String(sizes.full), "/dev/urandom"]),
    // Every block present and full of random data.
    fullVhdx: (path) => vhdxOfRaw(get("randomRaw"), path),
    // The same at `big`: the random raw file repeated, converted, then dropped.
    bigVhdx(path) {
      const raw = `${path}.raw`;
      try {
        pipeInto(raw, "cat", Array(sizes.big / sizes.full).fill(get("randomRaw")));
        vhdxOfRaw(raw, path);
      } finally {
        rmSync(raw, { force: true });
      }
    },
    sparseSmall: (path) => makeSparseVhdx(path, sizes.sparseSmall, sizes.sparseData),
    sparseLarge: (path) => makeSparseVhdx(path, sizes.sparseLarge, sizes.sparseData),
    sparseRawSmall: (path) => makeSparseRaw(path, sizes.sparseRawSmall, sizes.sparseData),
    sparseRawMid: (path) => makeSparseRaw(path, sizes.sparseRawMid, sizes.sparseData),
    sparseRawLarge: (path) => makeSparseRaw(path, sizes.sparseRawLarge, sizes.sparseData),
    // Empty dynamic images with 1 MiB blocks: only the virtual size (and so the BAT) differs.
    // QEMU fills their BAT with "zero" entries, so the 512 MiB BAT of emptyHuge takes 512 MiB on disk.
    emptySmall: (path) => emptyVhdx(path, sizes.small),
    emptyHuge: (path) => emptyVhdx(path, sizes.huge),
    // emptyHuge with "not present" entries, which QEMU leaves as a hole: a cheap copy for each write.
    emptyHugeHoles: (path) => emptyVhdx(path, sizes.huge, "block_state_zero=off"),
    // What `write` writes, as `qemu-io -c "write -P 1 0 4k"` does.
    ones4k(path) {
      const fd = openSync(path, "w");
      try {
        writeSync(fd, new Uint8Array(4096).fill(1));
      } finally {
        closeSync(fd);
      }
    },
  };

  function pathOf(name) {
    const tmpfs = name.endsWith(TMPFS_SUFFIX);
    if (tmpfs && dirs.tmpfs === null) throw new Error(`no tmpfs for fixture ${name}`);
    const base = tmpfs ? name.slice(0, -TMPFS_SUFFIX.length) : name;
    if (!(base in makers)) throw new Error(`no fixture ${name}`);
    const extension = base.includes("Raw") ? "raw" : base.endsWith("4k") ? "bin" : "vhdx";
    return { base, tmpfs, path: join(tmpfs ? dirs.tmpfs : dirs.disk, `${base}.${extension}`) };
  }

  /** @param {string} name */
  function get(name) {
    if (!made.has(name)) {
      const { base, tmpfs, path } = pathOf(name);
      process.stderr.write(`making fixture ${name}...\n`);
      if (tmpfs) execFileSync("cp", ["--sparse=always", get(base), path]);
      else makers[base](path);
      execFileSync("sync"); // written back now, not by the kernel in the middle of a timed run
      made.set(name, path);
    }
    return made.get(name);
  }

  /** @param {string} name */
  function release(name) {
    if (!made.has(name)) return;
    rmSync(made.get(name), { force: true });
    made.delete(name);
  }
  return { get, release };
}

/** Runs `command args` with its stdout going into the file at `path`. */
function pipeInto(path, command, args) {
  const fd = openSync(path, "w");
  try {
    const result = spawnSync(command, args, { stdio: ["ignore", fd, "pipe"] });
    if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed: ${result.stderr}`);
  } finally {
    closeSync(fd);
  }
}

function vhdxOfRaw(raw, path) {
  qemuImg("convert", "-f", "raw", "-O", "vhdx", "-o", "subformat=dynamic,block_size=32M", raw, path);
}

function emptyVhdx(path, size, ...options) {
  qemuImg("create", "-f", "vhdx", "-o", ["subformat=dynamic,block_size=1M", ...options].join(","), path, String(size));
}

/** Where chunk `i` of `count` starts in a disk of `size`: spread evenly, on a chunk boundary. */
const chunkOffset = (i, count, size) => Math.floor((i * size) / count / SPARSE_CHUNK) * SPARSE_CHUNK;

/** A dynamic image of `size` with `data` bytes written as whole 8 MiB blocks spread evenly over it. */
function makeSparseVhdx(path, size, data) {
  qemuImg("create", "-f", "vhdx", "-o", `subformat=dynamic,block_size=${SPARSE_CHUNK}`, path, String(size));
  const chunks = data / SPARSE_CHUNK;
  const writes = [];
  for (let i = 0; i < chunks; i++) {
    const pattern = `0x${(0x11 * ((i % 15) + 1)).toString(16)}`;
    writes.push("-c", `write -P ${pattern} ${chunkOffset(i, chunks, size)} ${SPARSE_CHUNK}`);
  }
  execFileSync("qemu-io", ["-f", "vhdx", ...writes, path], { stdio: ["ignore", "ignore", "pipe"] });
}

/**
 * A sparse raw file of `size` holding `data` bytes in 8 MiB chunks spread evenly
 * over it, everything else a hole: the same bytes whatever the size, so files
 * of different sizes differ only in their holes.
 */
function makeSparseRaw(path, size, data) {
  const fd = openSync(path, "w");
  try {
    ftruncateSync(fd, size);
    const chunks = data / SPARSE_CHUNK;
    const chunk = new Uint32Array(SPARSE_CHUNK / 4);
    for (let i = 0; i < chunks; i++) {
      fillPseudoRandom(chunk, i + 1);
      writeSync(fd, new Uint8Array(chunk.buffer), 0, SPARSE_CHUNK, chunkOffset(i, chunks, size));
    }
  } finally {
    closeSync(fd);
  }
}

/** xorshift32 from `seed`: incompressible, never a run of zeros, the same on every run. */
function fillPseudoRandom(words, seed) {
  let x = Math.imul(seed, 0x9e3779b9) || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x;
  }
}
