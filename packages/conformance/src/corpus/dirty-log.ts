// Images with a log to replay, made by QEMU. QEMU clears its log after every
// write, so the log stays only when a write fails half way: blkdebug fails the
// write of the BAT page that the log entry updates, after the payload data and
// the log entry have landed. The expected contents are what QEMU reads after
// it replays the log in a copy (`qemu-img check -r leaks` opens read-write).
// The image is checked to really need a replay: the current header's LogGuid
// is set, and QEMU refuses to open it read-only.
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { qemuConvertToRaw, qemuCreate, qemuIo, run } from "@vhdx-tools/oracles";
import { openVhdx } from "@vhdx/image/node";
import { BAT_REGION_GUID, decodeHeader, decodeRegionTable, verifyHeaderChecksum } from "@vhdx/structs";
import {
  type CorpusImage,
  type CorpusRecipe,
  ORACLE_LIMITS,
  blockSizeFeature,
  sevenZipLimits,
  sevenZipRefuses,
} from "./corpus-image.js";
import { type Op, qemuIoCommand, touchedBlocks } from "./workload.js";

const NIL_GUID = "00000000-0000-0000-0000-000000000000";
const HEADER_OFFSETS = [0x10000, 0x20000] as const;
const REGION_TABLE_OFFSET = 0x30000;

export interface DirtyLogSpec {
  name: string;
  size: number;
  blockSize: number;
  /** Writes QEMU completes first, in a session of their own. */
  before: Op[];
  /** Writes of the failing session that change no BAT entry (into blocks `before` allocated). */
  dataOnly: Op[];
  /**
   * The write whose BAT update fails: into a block nothing allocated yet.
   * (QEMU 7.2's VHDX driver has no zero-write support: `write -z` allocates
   * the block and writes zeros, so a zero write fails this way too.)
   */
  failing: Op;
}

export function dirtyLogRecipe(spec: DirtyLogSpec): CorpusRecipe {
  return { name: spec.name, needs: ["qemu-img", "qemu-io"], build: (dir) => [buildDirtyLogImage(dir, spec)] };
}

/**
 * The same dirty log, replayed on disk by us (a read-write open and close of
 * a copy): QEMU must then open it read-only, `qemu-img check` it clean, and
 * read it as it reads the file after its own replay (the "model").
 */
export function dirtyLogReplayedByUsRecipe(spec: DirtyLogSpec): CorpusRecipe {
  const name = `${spec.name}-replayed-by-us`;
  return {
    name,
    needs: ["qemu-img", "qemu-io"],
    build: async (dir) => {
      const dirty = buildDirtyLogImage(dir, spec);
      const path = join(dir, `${name}.vhdx`);
      copyFileSync(dirty.path, path);
      await (await openVhdx(path, { readOnly: false })).close();
      const raw = join(dir, `${name}.raw`);
      qemuConvertToRaw(path, raw);
      const replayed: CorpusImage = {
        ...dirty,
        name,
        origin: "writer",
        path,
        features: [...dirty.features, "replayed-by-us"],
        expected: { oracle: "qemu-img convert", path: raw },
        writerModel: dirty.expected.path,
        skip: sevenZipLimits(spec.size, 512),
      };
      return [dirty, replayed];
    },
  };
}

function buildDirtyLogImage(dir: string, spec: DirtyLogSpec): CorpusImage {
  const path = join(dir, `${spec.name}.vhdx`);
  qemuCreate(path, { size: spec.size, subformat: "dynamic", blockSize: spec.blockSize });
  if (spec.before.length > 0) qemuIo(path, spec.before.map(qemuIoCommand));
  failBatUpdate(dir, path, spec);
  requireDirtyLog(path);
  const raw = join(dir, `${spec.name}.raw`);
  qemuConvertToRaw(replayedCopy(dir, path, spec.name), raw);
  const ops = [...spec.before, ...spec.dataOnly, spec.failing];
  return {
    name: spec.name,
    origin: "qemu",
    path,
    parents: [],
    virtualSize: spec.size,
    blockSize: spec.blockSize,
    logicalSectorSize: 512,
    diskType: "dynamic",
    features: [
      "dynamic",
      blockSizeFeature(spec.blockSize),
      "dirty-log",
      ...(spec.failing.kind === "zero" ? ["zero-writes"] : []),
    ],
    expected: { oracle: "qemu-img convert", path: raw },
    alsoExpected: [],
    focus: touchedBlocks(ops, spec.blockSize, spec.size),
    skip: {
      pyvhdi: ORACLE_LIMITS.libvhdiNoReplay,
      ...sevenZipRefuses(ORACLE_LIMITS.sevenZipNoReplay),
      ...sevenZipLimits(spec.size, 512),
    },
  };
}

/** Runs the failing session through blkdebug, failing the first write of the BAT page the failing op's log entry updates. */
function failBatUpdate(dir: string, path: string, spec: DirtyLogSpec): void {
  const config = join(dir, `${spec.name}.blkdebug`);
  const sector = batPageSector(path, spec);
  writeFileSync(
    config,
    `[inject-error]\nevent = "pwritev"\niotype = "write"\nerrno = "5"\nsector = "${sector}"\nonce = "on"\n`,
  );
  const args = ["-f", "vhdx"];
  for (const op of [...spec.dataOnly, spec.failing]) args.push("-c", qemuIoCommand(op));
  try {
    run("qemu-io", [...args, `blkdebug:${config}:${path}`]);
  } catch (error) {
    if (!/Input\/output error/.test(String(error))) throw error;
    return;
  }
  throw new Error(`${spec.name}: the blkdebug session did not fail; no log was left to replay`);
}

/** The 512-byte sector where the 4 KiB BAT page holding the failing op's first block entry starts. */
function batPageSector(path: string, spec: DirtyLogSpec): number {
  const file = readFileSync(path);
  const table = decodeRegionTable(file, REGION_TABLE_OFFSET);
  const bat = table.entries.find((entry) => entry.guid === BAT_REGION_GUID);
  if (bat === undefined) throw new Error(`${path}: no BAT region`);
  const chunkRatio = (2 ** 23 * 512) / spec.blockSize;
  const block = Math.floor(spec.failing.offset / spec.blockSize);
  const index = block + Math.floor(block / chunkRatio);
  return (bat.fileOffset + Math.floor((index * 8) / 4096) * 4096) / 512;
}

/** Throws unless the current header has a LogGuid and QEMU refuses a read-only open for want of a replay. */
function requireDirtyLog(path: string): void {
  const file = readFileSync(path);
  const valid = HEADER_OFFSETS.filter((offset) => verifyHeaderChecksum(file, offset)).map((offset) =>
    decodeHeader(file, offset),
  );
  const current = valid.sort((a, b) => (a.sequenceNumber < b.sequenceNumber ? 1 : -1))[0];
  if (current === undefined || current.logGuid === NIL_GUID)
    throw new Error(`${path}: the current header has no LogGuid: no dirty log`);
  try {
    run("qemu-img", ["info", "-f", "vhdx", path]);
  } catch (error) {
    if (/needs to be replayed/.test(String(error))) return;
    throw error;
  }
  throw new Error(`${path}: QEMU opened it read-only, so it saw no log to replay`);
}

/** A copy of the image with its log replayed by QEMU. */
function replayedCopy(dir: string, path: string, name: string): string {
  const copy = join(dir, `${name}.replayed-by-qemu.vhdx`);
  copyFileSync(path, copy);
  run("qemu-img", ["check", "-q", "-r", "leaks", "-f", "vhdx", copy]);
  return copy;
}
