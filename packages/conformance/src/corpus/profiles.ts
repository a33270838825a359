// Which images each profile builds. "short" runs in CI: one small image per
// feature, and one sparse image past the 4 GiB chunk boundary. "full" adds
// every block size (1 to 256 MiB) fixed and dynamic at several sizes, more
// dirty logs, more writer images and larger chains.
import { CHUNK_512, type CorpusProfile, type CorpusRecipe, GiB, MiB } from "./corpus-image.js";
import { type DirtyLogSpec, dirtyLogRecipe, dirtyLogReplayedByUsRecipe } from "./dirty-log.js";
import {
  blockStates,
  chainPastChunk,
  differencingStates,
  differencingWithoutBitmap,
  partialChain,
  unknownStructures,
} from "./generated-sets.js";
import { qemuRecipe } from "./qemu-images.js";
import { type Op, workload } from "./workload.js";
import {
  type WriterImageSpec,
  writerChainRecipe,
  writerChildRecipe,
  writerDeepChainRecipe,
  writerRecipe,
} from "./writer-images.js";

const S = 512;
const BLOCK_SIZES = [1, 2, 4, 8, 16, 32, 64, 128, 256].map((n) => n * MiB);

export function corpusRecipes(profile: CorpusProfile): CorpusRecipe[] {
  return profile === "short" ? shortRecipes() : [...shortRecipes(), ...fullOnlyRecipes()];
}

function shortRecipes(): CorpusRecipe[] {
  return [
    qemuRecipe({
      name: "qemu-dynamic-1MiB",
      subformat: "dynamic",
      size: 24 * MiB + 7 * S,
      blockSize: MiB,
      workload: { seed: 1, zeroes: true, discards: true, unaligned: true },
    }),
    qemuRecipe({
      name: "qemu-fixed-8MiB-preallocated",
      subformat: "fixed",
      size: 40 * MiB + 3 * S,
      blockSize: 8 * MiB,
      blockStateZero: false,
      workload: { seed: 2, writes: 8, zeroes: true },
    }),
    qemuRecipe({
      name: "qemu-fixed-32MiB-zero-blocks",
      subformat: "fixed",
      size: 72 * MiB,
      blockSize: 32 * MiB,
      workload: { seed: 3, writes: 6, zeroes: true },
    }),
    qemuRecipe({
      name: "qemu-dynamic-past-4GiB",
      subformat: "dynamic",
      size: 4 * GiB + 64 * MiB,
      blockSize: MiB,
      workload: { seed: 4, writes: 8, zeroes: true, around: [CHUNK_512, 0, 4 * GiB + 60 * MiB] },
    }),
    dirtyLogReplayedByUsRecipe(dirtyLogSpec("qemu-dirty-log", MiB, 16 * MiB, "write")),
    writerRecipe(writerSpec("writer-dynamic-2MiB", "dynamic", 30 * MiB + 5 * S, 2 * MiB, 512, 11, 2)),
    writerRecipe(writerSpec("writer-fixed-4MiB", "fixed", 20 * MiB, 4 * MiB, 512, 12, 1)),
    writerRecipe(writerSpec("writer-dynamic-4k-sectors", "dynamic", 12 * MiB + 3 * 4096, MiB, 4096, 13, 2)),
    // Blocks 511 and 512 have their BAT entries in different 4 KiB pages: one write allocates both.
    writerRecipe(
      writerSpec("writer-dynamic-bat-pages", "dynamic", 600 * MiB + 3 * S, MiB, 512, 15, 2, {
        writes: 12,
        around: [512 * MiB, 0, 599 * MiB],
        first: [{ kind: "write", offset: 512 * MiB - 4096, length: 8192, pattern: 0x99 }],
      }),
    ),
    writerChain("writer-chain", 512, 14),
    writerChain("writer-chain-4k", 4096, 16),
    writerDeepChain("writer-deep-chain", 512, 17, "fixed", 8 * MiB),
    writerDeepChain("writer-deep-chain-4k", 4096, 18, "dynamic", 4 * MiB),
    writerChildRecipe(partialChain("writer-over-gen", 512), {
      name: "writer-over-gen-child",
      blockSize: MiB,
      sessions: [childOps(512, 8 * MiB)],
    }),
    blockStates("gen-block-states", 512, MiB),
    unknownStructures("gen-unknown-structures"),
    partialChain("gen-chain", 512),
    partialChain("gen-chain-4k", 4096),
    differencingStates("gen-diff-states"),
    differencingWithoutBitmap("gen-diff-no-bitmap"),
    // What 7-Zip refuses left out (the legacy value 5, an odd number of sectors), so it reads every other state.
    blockStates("gen-block-states-4k-no-legacy", 4096, MiB, { legacy: false, tailSectors: 2 }),
    differencingStates("gen-diff-states-no-legacy", { legacy: false }),
  ];
}

function fullOnlyRecipes(): CorpusRecipe[] {
  const recipes: CorpusRecipe[] = [];
  BLOCK_SIZES.forEach((blockSize, i) => {
    const mib = blockSize / MiB;
    const sizes = [3 * blockSize + 5 * S, Math.max(40 * MiB, 2 * blockSize) + blockSize / 2];
    sizes.forEach((size, j) => {
      const seed = 100 + i * 10 + j * 4;
      const load = (k: number) => ({ seed: seed + k, writes: 6, zeroes: true, discards: true, unaligned: k % 2 === 0 });
      recipes.push(
        qemuRecipe({
          name: `qemu-full-dynamic-${mib}MiB-${j}`,
          subformat: "dynamic",
          size,
          blockSize,
          workload: load(0),
        }),
        qemuRecipe({
          name: `qemu-full-dynamic-${mib}MiB-${j}-bsz-off`,
          subformat: "dynamic",
          size,
          blockSize,
          blockStateZero: false,
          workload: load(1),
        }),
        qemuRecipe({ name: `qemu-full-fixed-${mib}MiB-${j}`, subformat: "fixed", size, blockSize, workload: load(2) }),
        qemuRecipe({
          name: `qemu-full-fixed-${mib}MiB-${j}-bsz-off`,
          subformat: "fixed",
          size,
          blockSize,
          blockStateZero: false,
          workload: load(3),
        }),
      );
    });
    const size = 2 * blockSize + 7 * MiB + 3 * S;
    recipes.push(
      writerRecipe(writerSpec(`writer-full-dynamic-${mib}MiB`, "dynamic", size, blockSize, 512, 300 + i, 2)),
      writerRecipe(writerSpec(`writer-full-fixed-${mib}MiB`, "fixed", size, blockSize, 512, 320 + i, 2)),
      writerRecipe(
        writerSpec(`writer-full-4k-${mib}MiB`, "dynamic", 2 * blockSize + 7 * MiB + 4096, blockSize, 4096, 340 + i, 2),
      ),
    );
  });
  for (const blockSize of [32 * MiB, 256 * MiB]) {
    const mib = blockSize / MiB;
    recipes.push(
      qemuRecipe({
        name: `qemu-full-dynamic-past-4GiB-${mib}MiB`,
        subformat: "dynamic",
        size: 4 * GiB + 2 * blockSize + 3 * S,
        blockSize,
        workload: { seed: 400 + mib, writes: 6, zeroes: true, unaligned: true, around: [CHUNK_512] },
      }),
    );
  }
  recipes.push(
    // A whole number of blocks: QEMU 7.2 refuses its own preallocated fixed
    // file past the first chunk when the last block is partial ("BAT entry
    // ... points after end of file"), though it writes such files below 4 GiB.
    qemuRecipe({
      name: "qemu-full-fixed-past-4GiB-preallocated",
      subformat: "fixed",
      size: 4 * GiB + 24 * MiB,
      blockSize: 8 * MiB,
      blockStateZero: false,
      workload: { seed: 450, writes: 6, zeroes: true, around: [CHUNK_512] },
    }),
    writerRecipe(
      writerSpec("writer-full-dynamic-past-4GiB", "dynamic", 4 * GiB + 64 * MiB, MiB, 512, 460, 2, {
        around: [CHUNK_512, 4 * GiB + 63 * MiB],
      }),
    ),
    writerRecipe(writerSpec("writer-full-many-blocks", "dynamic", 700 * MiB + 3 * S, MiB, 512, 490, 3, { writes: 60 })),
    qemuRecipe({
      name: "qemu-full-dynamic-log-4MiB",
      subformat: "dynamic",
      size: 48 * MiB + 5 * S,
      blockSize: 2 * MiB,
      logSize: 4 * MiB,
      workload: { seed: 480, writes: 12, zeroes: true, discards: true, unaligned: true },
    }),
    dirtyLog("qemu-full-dirty-log-zero", MiB, 16 * MiB, "zero"),
    dirtyLogReplayedByUsRecipe(dirtyLogSpec("qemu-full-dirty-log-32MiB", 32 * MiB, 160 * MiB, "write")),
    dirtyLog("qemu-full-dirty-log-two-pages", MiB, 600 * MiB, "two-pages"),
    blockStates("gen-full-block-states-4k", 4096, 4 * MiB),
    blockStates("gen-full-block-states-256MiB", 512, 256 * MiB),
    partialChain("gen-full-chain-32MiB", 512, 32 * MiB),
    chainPastChunk("gen-full-past-4GiB", MiB),
  );
  return recipes;
}

function writerSpec(
  name: string,
  type: "fixed" | "dynamic",
  size: number,
  blockSize: number,
  sectorSize: 512 | 4096,
  seed: number,
  sessions: number,
  more: { writes?: number; around?: number[]; first?: Op[] } = {},
): WriterImageSpec {
  const all = Array.from({ length: sessions }, (_, i) => [
    ...(i === 0 ? (more.first ?? []) : []),
    ...workload({
      seed: seed * 10 + i,
      size,
      blockSize,
      sectorSize,
      writes: more.writes ?? 6,
      zeroes: true,
      discards: true,
      unaligned: i % 2 === 0,
      ...(more.around ? { around: more.around } : {}),
    }),
  ]);
  return { name, type, size, blockSize, logicalSectorSize: sectorSize, sessions: all };
}

/** A dynamic parent of ours and a differencing child of ours (see childOps). */
function writerChain(name: string, sectorSize: 512 | 4096, seed: number): CorpusRecipe {
  const size = 16 * MiB;
  const parent = writerSpec(`${name}-parent`, "dynamic", size, 2 * MiB, sectorSize, seed, 1);
  const again: Op[] = [
    { kind: "write", offset: 2 * sectorSize + 1, length: 3 * sectorSize, pattern: 0x47 },
    { kind: "zero", offset: 4 * MiB + sectorSize, length: 1000 },
  ];
  return writerChainRecipe({
    parent,
    child: { name: `${name}-child`, blockSize: MiB, sessions: [childOps(sectorSize, size), again] },
  });
}

/**
 * Three levels in three folders: a parent (fixed or dynamic), a child two
 * folders away from it (..\..\base\...) and a grandchild one folder above the
 * child (mid\...). The size is an even number of sectors with a partial last
 * block, which every oracle reads (7-Zip refuses odd numbers of sectors).
 */
function writerDeepChain(
  name: string,
  sectorSize: 512 | 4096,
  seed: number,
  type: "fixed" | "dynamic",
  blockSize: number,
): CorpusRecipe {
  const size = 24 * MiB + 2 * sectorSize;
  const parent = { ...writerSpec(`${name}-base`, type, size, blockSize, sectorSize, seed, 1), folder: `${name}/base` };
  return writerDeepChainRecipe({
    parent,
    children: [
      { name: `${name}-mid`, folder: `${name}/disks/mid`, sessions: [childOps(sectorSize, size)] },
      { name: `${name}-top`, folder: `${name}/disks`, sessions: [grandchildOps(sectorSize, size)] },
    ],
  });
}

/** Writes over childOps' (other patterns, so a read from the wrong level shows), libvhdi-safe as childOps are. */
function grandchildOps(s: number, size: number): Op[] {
  return [
    { kind: "write", offset: 3 * s, length: 2 * s + 100, pattern: 0x51 },
    { kind: "write", offset: MiB + 4 * s, length: s, pattern: 0x52 },
    { kind: "write", offset: 5 * MiB, length: MiB, pattern: 0x53 },
    { kind: "zero", offset: 4 * MiB + 10 * s, length: 3 * s },
    { kind: "write", offset: size - 3 * s, length: 2 * s, pattern: 0x54 },
  ];
}

/**
 * Writes into a differencing child (1 MiB blocks) that suit libvhdi, the
 * oracle of its expected contents: partial sectors over the parent's data, a
 * whole block, partial zero writes, a whole-block discard (back to the
 * parent). Not what libvhdi misreads: no whole-block zero write (a ZERO
 * block), and the discarded block (2) had no partial write before, so it
 * keeps no sector bitmap bits (see ORACLE_LIMITS.libvhdiStaleBitmap).
 */
function childOps(s: number, size: number): Op[] {
  return [
    { kind: "write", offset: 700, length: 100, pattern: 0x41 },
    { kind: "write", offset: MiB + 3 * s, length: 5 * s, pattern: 0x42 },
    { kind: "write", offset: 4 * MiB, length: MiB, pattern: 0x43 },
    { kind: "write", offset: 6 * MiB - 2 * s, length: 4 * s + 17, pattern: 0x44 },
    { kind: "zero", offset: MiB + 4 * s, length: 2 * s },
    { kind: "write", offset: 2 * MiB, length: MiB, pattern: 0x45 },
    { kind: "discard", offset: 2 * MiB, length: MiB },
    { kind: "write", offset: size - s, length: s, pattern: 0x46 },
  ];
}

function dirtyLog(
  name: string,
  blockSize: number,
  size: number,
  failing: "write" | "zero" | "two-pages",
): CorpusRecipe {
  return dirtyLogRecipe(dirtyLogSpec(name, blockSize, size, failing));
}

function dirtyLogSpec(
  name: string,
  blockSize: number,
  size: number,
  failing: "write" | "zero" | "two-pages",
): DirtyLogSpec {
  const before: Op[] = [
    { kind: "write", offset: 0, length: 64 * 1024, pattern: 0x11 },
    { kind: "write", offset: 2 * blockSize + 512, length: 4096, pattern: 0x12 },
  ];
  const dataOnly: Op[] = [{ kind: "write", offset: 4096, length: 8192, pattern: 0x22 }];
  const failingOp: Op =
    failing === "write"
      ? { kind: "write", offset: 3 * blockSize + 1024, length: 8192, pattern: 0x33 }
      : failing === "zero"
        ? { kind: "zero", offset: 3 * blockSize, length: blockSize }
        : { kind: "write", offset: 511 * blockSize + blockSize / 2, length: blockSize, pattern: 0x34 };
  return { name, size, blockSize, before, dataOnly, failing: failingOp };
}
