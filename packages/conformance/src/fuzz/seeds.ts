// The valid images the fuzzer mutates: small (a few MiB) and varied. QEMU's
// dynamic and fixed images with data written by qemu-io; our own writer's
// images, one of them left with a log to replay; and spec-generated ones
// (@vhdx-tools/fixtures) for what neither makes: a differencing child with
// partially present blocks and its parent, 4 KiB logical sectors, every block
// state, unknown optional regions and items, user metadata.
import { readFileSync } from "node:fs";
import { STATE, buildVhdx } from "@vhdx-tools/fixtures";
import { type TempDir, oracle, qemuCreate, qemuIo } from "@vhdx-tools/oracles";
import { MemorySource, type VhdxImage, createImage } from "@vhdx/image";
import { decodeHeader } from "@vhdx/structs";

export interface SeedFile {
  fileName: string;
  bytes: Uint8Array;
}

export interface SeedImage {
  name: string;
  bytes: Uint8Array;
  /** Files that must sit beside the mutant (a differencing disk's parent). */
  parents: SeedFile[];
}

/** The name every mutant gets on disk (parent locators that point at themselves use it). */
export const MUTANT_FILE_NAME = "mutant.vhdx";
const PARENT_FILE_NAME = "parent.vhdx";

const MiB = 1 << 20;
const NIL = "00000000-0000-0000-0000-000000000000";
// Fixed identities so the generated seeds, and so the mutants, are the same every run.
const GUIDS = {
  parentData: "11111111-2222-4333-8444-555555555555",
  childData: "66666666-7777-4888-8999-aaaaaaaaaaaa",
  file: "0f0f0f0f-0000-4000-8000-f0f0f0f0f0f0",
  disk: "d15cd15c-0000-4000-8000-000000000001",
  unknownRegion: "e0e0e0e0-1111-4222-8333-444444444444",
  unknownItem: "a1a1a1a1-2222-4333-8444-555555555555",
  userItem: "b2b2b2b2-3333-4444-8555-666666666666",
};

/**
 * Builds the seeds. QEMU's are made in `dir` and skipped when qemu-img or
 * qemu-io is missing outside CI (in CI a missing oracle throws).
 */
export async function buildSeeds(dir: TempDir): Promise<SeedImage[]> {
  const seeds = [...(await ownSeeds()), ...fixtureSeeds()];
  if (oracle("qemu-img") && oracle("qemu-io")) seeds.unshift(...qemuSeeds(dir));
  return seeds;
}

function qemuSeeds(dir: TempDir): SeedImage[] {
  const dynamic = dir.file("qemu-dynamic.vhdx");
  qemuCreate(dynamic, { size: 8 * MiB, subformat: "dynamic", blockSize: MiB });
  qemuIo(dynamic, ["write -P 0xa5 0 64k", "write -P 0x5a 3M 1M", "write -z 5M 1M", "write -P 0x11 7M 4k"]);
  const fixed = dir.file("qemu-fixed.vhdx");
  qemuCreate(fixed, { size: 4 * MiB, subformat: "fixed", blockSize: MiB, blockStateZero: false });
  qemuIo(fixed, ["write -P 0x77 1M 64k"]);
  return [
    { name: "qemu-dynamic", bytes: new Uint8Array(readFileSync(dynamic)), parents: [] },
    { name: "qemu-fixed", bytes: new Uint8Array(readFileSync(fixed)), parents: [] },
  ];
}

async function ownSeeds(): Promise<SeedImage[]> {
  const dynamic = await ownImage({ size: 8 * MiB, blockSize: MiB });
  const fixed = await ownImage({ size: 3 * MiB, blockSize: MiB, type: "fixed", logicalSectorSize: 4096 });
  const busy = await ownImage({ size: 8 * MiB, blockSize: MiB }, churn);
  for (const image of [dynamic, busy]) {
    if (currentLogGuid(image.dirty) === NIL)
      throw new Error("fuzz seeds: the writer's snapshot before close has no log to replay");
  }
  return [
    { name: "ours-dynamic", bytes: dynamic.closed, parents: [] },
    { name: "ours-dirty-log", bytes: dynamic.dirty, parents: [] },
    { name: "ours-dirty-log-wrapped", bytes: busy.dirty, parents: [] },
    { name: "ours-fixed-4k", bytes: fixed.closed, parents: [] },
  ];
}

/**
 * An image written by @vhdx/image: `dirty` is a snapshot taken after a flush
 * but before close, when the header still names the session's log (LogGuid
 * set) and the log holds the entries of the writes: a crash there leaves
 * exactly this file, with a log to replay.
 */
async function ownImage(
  options: { size: number; blockSize: number; type?: "fixed"; logicalSectorSize?: 4096 },
  extra?: (image: VhdxImage) => Promise<void>,
) {
  const source = new MemorySource();
  const image = await createImage(source, { ...options, virtualDiskId: GUIDS.disk, creator: "vhdx fuzz seed" });
  await extra?.(image);
  await image.write(0, new Uint8Array(64 * 1024).fill(0xc3));
  await image.write(2 * MiB - 4096, new Uint8Array(8192).fill(0x3c));
  if (options.size > 4 * MiB) {
    await image.writeZeroes(4 * MiB, MiB);
    await image.write(6 * MiB + 512, new Uint8Array(1024).fill(0x99));
    await image.discard(6 * MiB, MiB);
  }
  await image.flush();
  const dirty = source.bytes().slice();
  await image.close();
  return { closed: source.bytes().slice(), dirty };
}

/** Enough flushed allocations and discards (a log entry each) that the 1 MiB log wraps around. */
async function churn(image: VhdxImage): Promise<void> {
  for (let i = 0; i < 150; i++) {
    const block = (i % 7) + 1;
    await image.write(block * MiB + 4096, new Uint8Array(4096).fill(i));
    await image.flush();
    await image.discard(block * MiB, MiB);
    await image.flush();
  }
}

function currentLogGuid(bytes: Uint8Array): string {
  const [one, two] = [decodeHeader(bytes, 0x10000), decodeHeader(bytes, 0x20000)];
  return (one.sequenceNumber > two.sequenceNumber ? one : two).logGuid;
}

function fixtureSeeds(): SeedImage[] {
  const identity = { fileWriteGuid: GUIDS.file, virtualDiskId: GUIDS.disk };
  const parent = buildVhdx({
    ...identity,
    virtualSize: 4 * MiB,
    blockSize: MiB,
    type: "dynamic",
    dataWriteGuid: GUIDS.parentData,
    blocks: { 0: { state: STATE.FULLY_PRESENT }, 1: { state: STATE.FULLY_PRESENT }, 3: { state: STATE.FULLY_PRESENT } },
  });
  const child = buildVhdx({
    ...identity,
    virtualSize: 4 * MiB,
    blockSize: MiB,
    type: "differencing",
    dataWriteGuid: GUIDS.childData,
    parent: {
      dataWriteGuid: GUIDS.parentData,
      paths: { relative_path: PARENT_FILE_NAME, absolute_win32_path: "C:\\vms\\parent.vhdx" },
    },
    blocks: {
      1: { state: STATE.PARTIALLY_PRESENT, presentSectors: (s) => s % 2 === 0 },
      2: { state: STATE.FULLY_PRESENT },
      3: { state: STATE.PARTIALLY_PRESENT, presentSectors: (s) => s < 100 },
    },
  });
  const fourK = buildVhdx({
    ...identity,
    virtualSize: 8 * MiB,
    blockSize: MiB,
    logicalSectorSize: 4096,
    physicalSectorSize: 4096,
    type: "dynamic",
    dataWriteGuid: GUIDS.childData,
    blocks: {
      0: { state: STATE.FULLY_PRESENT },
      2: { state: STATE.ZERO },
      3: { state: STATE.UNMAPPED },
      4: { state: STATE.UNDEFINED },
      5: { state: STATE.UNMAPPED_V095 },
      7: { state: STATE.FULLY_PRESENT },
    },
  });
  const extras = buildVhdx({
    ...identity,
    virtualSize: 4 * MiB,
    blockSize: 2 * MiB,
    physicalSectorSize: 512,
    type: "dynamic",
    dataWriteGuid: GUIDS.parentData,
    regionsRequired: false,
    extraRegions: [{ guid: GUIDS.unknownRegion, required: false }],
    extraItems: [
      { itemId: GUIDS.unknownItem, isUser: false, isRequired: false, data: new Uint8Array(24).fill(0x42) },
      {
        itemId: GUIDS.userItem,
        isUser: true,
        isRequired: false,
        data: new TextEncoder().encode("user metadata kept as found"),
      },
    ],
    blocks: { 1: { state: STATE.FULLY_PRESENT } },
  });
  return [
    {
      name: "fixture-differencing",
      bytes: child.bytes,
      parents: [{ fileName: PARENT_FILE_NAME, bytes: parent.bytes }],
    },
    { name: "fixture-parent", bytes: parent.bytes, parents: [] },
    { name: "fixture-4k-states", bytes: fourK.bytes, parents: [] },
    { name: "fixture-unknown-items", bytes: extras.bytes, parents: [] },
  ];
}
