// Images QEMU makes: `qemu-img create -f vhdx`, one seeded qemu-io session of
// writes, zero writes and discards, and `qemu-img convert -O raw` as the
// expected contents. (QEMU 7.2's VHDX driver ignores discards: they are in
// the workload all the same, and the raw file shows what QEMU did.)
import { join } from "node:path";
import { qemuConvertToRaw, qemuCreate, qemuIo } from "@vhdx-tools/oracles";
import {
  CHUNK_512,
  type CorpusImage,
  type CorpusRecipe,
  blockSizeFeature,
  libvhdiLimits,
  sevenZipLimits,
} from "./corpus-image.js";
import { type Op, type WorkloadOptions, opFeatures, qemuIoCommand, touchedBlocks, workload } from "./workload.js";

export interface QemuImageSpec {
  name: string;
  subformat: "fixed" | "dynamic";
  size: number;
  blockSize: number;
  /** QEMU's default (on) marks new blocks ZERO, even in fixed images. */
  blockStateZero?: boolean;
  /** The log's size in bytes (QEMU's default is 1 MiB). */
  logSize?: number;
  workload: Omit<WorkloadOptions, "size" | "blockSize" | "sectorSize">;
}

export function qemuRecipe(spec: QemuImageSpec): CorpusRecipe {
  return { name: spec.name, needs: ["qemu-img", "qemu-io"], build: (dir) => [buildQemuImage(dir, spec)] };
}

function buildQemuImage(dir: string, spec: QemuImageSpec): CorpusImage {
  const path = join(dir, `${spec.name}.vhdx`);
  const raw = join(dir, `${spec.name}.raw`);
  qemuCreate(path, {
    size: spec.size,
    subformat: spec.subformat,
    blockSize: spec.blockSize,
    ...(spec.blockStateZero === undefined ? {} : { blockStateZero: spec.blockStateZero }),
    ...(spec.logSize === undefined ? {} : { logSize: spec.logSize }),
  });
  const ops = workload({ ...spec.workload, size: spec.size, blockSize: spec.blockSize, sectorSize: 512 });
  qemuIo(path, ops.map(qemuIoCommand));
  qemuConvertToRaw(path, raw);
  return {
    name: spec.name,
    origin: "qemu",
    path,
    parents: [],
    virtualSize: spec.size,
    blockSize: spec.blockSize,
    logicalSectorSize: 512,
    diskType: spec.subformat,
    features: qemuFeatures(spec, ops),
    expected: { oracle: "qemu-img convert", path: raw },
    alsoExpected: [],
    focus: touchedBlocks(ops, spec.blockSize, spec.size),
    skip: { ...libvhdiLimits(spec.subformat, spec.size, 512), ...sevenZipLimits(spec.size, 512) },
  };
}

function qemuFeatures(
  spec: Pick<QemuImageSpec, "subformat" | "size" | "blockSize" | "blockStateZero" | "logSize">,
  ops: readonly Op[],
): string[] {
  const features = [spec.subformat, blockSizeFeature(spec.blockSize)];
  if (spec.logSize !== undefined) features.push(`log-size-${spec.logSize / (1024 * 1024)}MiB`);
  features.push(spec.blockStateZero === false ? "block-state-zero-off" : "block-state-zero-on");
  if (spec.size > CHUNK_512) features.push("past-4GiB-chunk");
  if (spec.size % spec.blockSize !== 0) features.push("partial-last-block");
  features.push(...opFeatures(ops));
  return features;
}
