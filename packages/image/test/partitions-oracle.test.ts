// readPartitionTable against util-linux: raw disks partitioned by sfdisk (and
// by fdisk for 4096-byte sectors, which sfdisk cannot be told), turned into
// VHDX by qemu-img (512-byte sectors) or by our writer (4096, which QEMU 7.2
// cannot make), must show what `sfdisk --json` or `fdisk -l` shows of the raw
// file: start, size, type, name, GUIDs, attributes, boot flags and disk id.
import { readFileSync, writeFileSync } from "node:fs";
import { oraclePath, oracles, run, tempDir } from "@vhdx-tools/oracles";
import { afterAll, describe, expect, it } from "vitest";
import { type PartitionTable, readPartitionTable } from "../src/index.js";
import { createVhdx, openVhdx } from "../src/node/index.js";
import { crc32 } from "../src/partitions/crc32.js";
import { GPT_TYPE_NAMES, MBR_TYPE_NAMES } from "../src/partitions/partition-types.js";
import { fixGptHeaderCrc } from "./partitions-disks.js";

const MiB = 1 << 20;
const available = oracles("sfdisk", "fdisk", "qemu-img");
const dir = tempDir("vhdx-partitions-");
afterAll(() => dir.remove());

const GPT_SCRIPT = `label: gpt
label-id: 3A7D1E2B-4C5F-4E6A-9B8C-0D1E2F3A4B5C
start=2048, size=16384, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="EFI system partition", attrs="RequiredPartition"
start=18432, size=32768, type=E3C9E316-0B5C-4DB8-817D-F92DF00215AE, name="Microsoft reserved partition"
size=40960, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, name="Basic data ünïcodé ✓", attrs="LegacyBIOSBootable GUID:63"
size=8192, type=DE94BBA4-06D1-4D40-A16A-BFD50179D6AC, name="Recovery"
size=8192, type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F
type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="linux root"
`;

const MBR_SCRIPT = `label: dos
label-id: 0x1a2b3c4d
start=2048, size=20480, type=7, bootable
start=22528, size=40960, type=f
start=63488, size=4096, type=c
start=24576, size=8192, type=83
start=34816, size=8192, type=82
start=45056, size=16384, type=8e
`;

interface SfdiskPartition {
  node: string;
  start: number;
  size: number;
  type: string;
  uuid?: string;
  name?: string;
  attrs?: string;
  bootable?: boolean;
}

interface SfdiskTable {
  label: "gpt" | "dos";
  id: string;
  firstlba?: number;
  lastlba?: number;
  sectorsize: number;
  partitions: SfdiskPartition[];
}

function sfdisk(...args: string[]): Buffer {
  return run(oraclePath("sfdisk")!, args);
}

/** A sparse raw file of `size` bytes partitioned by an sfdisk script. */
function partitionedRaw(name: string, size: number, script: string): string {
  const path = dir.file(name);
  writeFileSync(path, new Uint8Array(0));
  run("truncate", ["-s", String(size), path]);
  run(oraclePath("sfdisk")!, ["-q", path], { input: script });
  return path;
}

function sfdiskJson(raw: string): SfdiskTable {
  return JSON.parse(sfdisk("--json", raw).toString()).partitiontable as SfdiskTable;
}

async function tableOfVhdx(raw: string): Promise<PartitionTable> {
  const vhdx = `${raw}.vhdx`;
  run("qemu-img", ["convert", "-f", "raw", "-O", "vhdx", raw, vhdx]);
  const image = await openVhdx(vhdx);
  try {
    return await readPartitionTable(image);
  } finally {
    await image.close();
  }
}

/** The attribute bits sfdisk prints as names and GUID:N. */
function sfdiskAttributes(attrs: string | undefined): bigint {
  const named: Record<string, bigint> = { RequiredPartition: 0n, NoBlockIOProtocol: 1n, LegacyBIOSBootable: 2n };
  let bits = 0n;
  for (const word of (attrs ?? "").split(/[\s,]+/).filter(Boolean)) {
    const bit = word.startsWith("GUID:") ? BigInt(word.slice(5)) : named[word];
    if (bit === undefined) throw new Error(`unknown sfdisk attribute ${word}`);
    bits |= 1n << bit;
  }
  return bits;
}

function indexOfNode(node: string): number {
  return Number(/(\d+)$/.exec(node)![1]);
}

function expectSameGpt(table: PartitionTable, oracle: SfdiskTable): void {
  const ss = oracle.sectorsize;
  expect(table.scheme).toBe("gpt");
  expect(table.diskId).toBe(oracle.id.toLowerCase());
  expect(table.gpt).toMatchObject({ firstUsableLba: oracle.firstlba, lastUsableLba: oracle.lastlba });
  expect(
    table.partitions.map((p) => [p.index, p.start, p.size, p.type, p.guid, p.name, BigInt(p.attributes ?? 0)]),
  ).toEqual(
    oracle.partitions.map((p) => [
      indexOfNode(p.node),
      p.start * ss,
      p.size * ss,
      p.type.toLowerCase(),
      p.uuid?.toLowerCase(),
      p.name,
      sfdiskAttributes(p.attrs),
    ]),
  );
}

describe.skipIf(!available)("partition tables made by sfdisk, read from VHDX files made by qemu-img", () => {
  it("a GPT with six named partitions of common types", async () => {
    const raw = partitionedRaw("gpt.raw", 128 * MiB, GPT_SCRIPT);
    const oracle = sfdiskJson(raw);
    expect(oracle.partitions).toHaveLength(6);
    const table = await tableOfVhdx(raw);
    expect(table.findings).toEqual([]);
    expectSameGpt(table, oracle);
    expect(table.partitions.map((p) => p.typeName)).toEqual([
      "EFI System",
      "Microsoft reserved",
      "Microsoft basic data",
      "Windows recovery",
      "Linux swap",
      "Linux filesystem",
    ]);
    expect(table.partitions.map((p) => p.bootable)).toEqual([false, false, true, false, false, false]);
  });

  it("an MBR with primary, extended and logical partitions", async () => {
    const raw = partitionedRaw("mbr.raw", 64 * MiB, MBR_SCRIPT);
    const oracle = sfdiskJson(raw);
    const table = await tableOfVhdx(raw);
    expect(table.findings).toEqual([]);
    expect(table.scheme).toBe("mbr");
    expect(table.diskId).toBe(oracle.id);
    expect(table.partitions.map((p) => [p.index, p.start, p.size, Number(p.type), p.bootable])).toEqual(
      oracle.partitions.map((p) => [
        indexOfNode(p.node),
        p.start * 512,
        p.size * 512,
        Number.parseInt(p.type, 16),
        p.bootable ?? false,
      ]),
    );
    expect(table.partitions.map((p) => p.kind)).toEqual([
      "primary",
      "extended",
      "primary",
      "logical",
      "logical",
      "logical",
    ]);
  });

  it("the backup GPT when the primary header is damaged, as sfdisk does", async () => {
    const raw = partitionedRaw("gpt-damaged.raw", 128 * MiB, GPT_SCRIPT);
    const before = sfdiskJson(raw);
    const bytes = readFileSync(raw);
    bytes[512 + 60]! ^= 0xff; // the disk GUID; the header CRC no longer matches
    writeFileSync(raw, bytes);
    const after = sfdiskJson(raw);
    expect(after.partitions).toEqual(before.partitions);
    const table = await tableOfVhdx(raw);
    expect(table.gpt?.headerUsed).toBe("backup");
    expect(table.findings).toEqual([
      expect.stringMatching(/^the primary GPT header at LBA 1 cannot be used: its CRC-32 is/),
    ]);
    expectSameGpt(table, after);
  });

  it("the backup GPT when the primary claims 2^32 - 1 entries with a valid CRC", async () => {
    const raw = partitionedRaw("gpt-count.raw", 128 * MiB, GPT_SCRIPT);
    const before = sfdiskJson(raw);
    const bytes = new Uint8Array(readFileSync(raw));
    new DataView(bytes.buffer, bytes.byteOffset).setUint32(512 + 80, 0xffffffff, true);
    fixGptHeaderCrc(bytes, 512);
    writeFileSync(raw, bytes);
    const table = await tableOfVhdx(raw);
    expect(table.gpt?.headerUsed).toBe("backup");
    expect(table.findings[0]).toContain("4294967295 x 128 bytes, more than the 1048576 bytes read");
    expectSameGpt(table, before);
  });

  it("a GPT whose entry array CRC was fixed after a partition was moved past the end", async () => {
    const raw = partitionedRaw("gpt-past-end.raw", 128 * MiB, GPT_SCRIPT);
    const bytes = new Uint8Array(readFileSync(raw));
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    const lastLbaOfThird = 2 * 512 + 2 * 128 + 40;
    view.setBigUint64(lastLbaOfThird, 300000n, true);
    view.setUint32(512 + 88, crc32(bytes.subarray(1024, 1024 + 128 * 128)), true);
    fixGptHeaderCrc(bytes, 512);
    writeFileSync(raw, bytes);
    const table = await tableOfVhdx(raw);
    expect(table.gpt?.headerUsed).toBe("primary");
    expect(table.findings).toContain("partition 3 (LBA 51200 to 300000) runs past the end of the disk (LBA 262143)");
    expect(table.findings).toContain("the backup GPT at LBA 262143 lists other partitions than the primary");
  });
});

describe.skipIf(!available)("4096-byte sectors: partitioned by fdisk -b 4096, in VHDX files made by our writer", () => {
  async function tableOf4kVhdx(name: string, script: string): Promise<{ table: PartitionTable; listing: string }> {
    const raw = dir.file(name);
    writeFileSync(raw, new Uint8Array(0));
    run("truncate", ["-s", String(64 * MiB), raw]);
    writeFileSync(`${raw}.script`, script);
    run(oraclePath("fdisk")!, ["-b", "4096", raw], { input: `I\n${raw}.script\nw\n` });
    const listing = run(oraclePath("fdisk")!, [
      "-b",
      "4096",
      "-l",
      "-o",
      COLUMNS[script.includes("gpt") ? 0 : 1]!,
      raw,
    ]);
    const image = await createVhdx(`${raw}.vhdx`, {
      size: 64 * MiB,
      logicalSectorSize: 4096,
      blockSize: MiB,
      flush: false,
    });
    await image.write(0, readFileSync(raw));
    await image.close();
    const reopened = await openVhdx(`${raw}.vhdx`);
    try {
      expect(reopened.logicalSectorSize).toBe(4096);
      return { table: await readPartitionTable(reopened), listing: listing.toString() };
    } finally {
      await reopened.close();
    }
  }
  const COLUMNS = ["Device,Start,Sectors,Type-UUID,UUID,Name", "Device,Start,Sectors,Id,Boot"];

  /** The rows under fdisk's column header, split on spaces (the name, last, may hold some). */
  function fdiskRows(listing: string): string[][] {
    const lines = listing.trimEnd().split("\n");
    const header = lines.findIndex((line) => line.startsWith("Device"));
    return lines.slice(header + 1).map((line) => line.trim().split(/\s+/));
  }

  it("a GPT", async () => {
    const { table, listing } = await tableOf4kVhdx(
      "gpt4k.raw",
      `label: gpt
label-id: 5E6F7A8B-1C2D-4E3F-8A9B-0C1D2E3F4A5B
start=256, size=4096, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="EFI"
start=4352, size=6144, type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F, name="swap space"
type=E6D6D379-F507-44C2-A23C-238F2A3DF928, name="lvm"
`,
    );
    expect(listing).toContain("Disk identifier: 5E6F7A8B-1C2D-4E3F-8A9B-0C1D2E3F4A5B");
    expect(table.findings).toEqual([]);
    expect(table.sectorSize).toBe(4096);
    expect(table.diskId).toBe("5e6f7a8b-1c2d-4e3f-8a9b-0c1d2e3f4a5b");
    expect(table.partitions.map((p) => [p.index, p.start, p.size, p.type, p.guid, p.name])).toEqual(
      fdiskRows(listing).map(([node, start, sectors, type, uuid, ...name]) => [
        indexOfNode(node!),
        Number(start) * 4096,
        Number(sectors) * 4096,
        type!.toLowerCase(),
        uuid!.toLowerCase(),
        name.join(" "),
      ]),
    );
    expect(table.partitions).toHaveLength(3);
  });

  it("an MBR with logical partitions", async () => {
    const { table, listing } = await tableOf4kVhdx(
      "mbr4k.raw",
      `label: dos
label-id: 0x0badcafe
start=256, size=1024, type=c, bootable
start=2048, size=8192, type=f
start=2304, size=1024, type=83
start=4096, size=2048, type=82
`,
    );
    expect(listing).toContain("Disk identifier: 0x0badcafe");
    expect(table.findings).toEqual([]);
    expect(table.diskId).toBe("0x0badcafe");
    expect(table.partitions.map((p) => [p.index, p.start, p.size, Number(p.type), p.bootable])).toEqual(
      fdiskRows(listing).map(([node, start, sectors, id, boot]) => [
        indexOfNode(node!),
        Number(start) * 4096,
        Number(sectors) * 4096,
        Number.parseInt(id!, 16),
        boot === "*",
      ]),
    );
    expect(table.partitions).toHaveLength(4);
  });
});

describe.skipIf(!available)("the type names", () => {
  it("name only GPT type GUIDs and MBR type bytes that sfdisk knows too", () => {
    const gptTypes = sfdisk("--label", "gpt", "-T").toString().toLowerCase();
    for (const guid of Object.keys(GPT_TYPE_NAMES)) expect(gptTypes).toContain(guid);
    const mbrTypes = new Set(
      sfdisk("--label", "dos", "-T")
        .toString()
        .split("\n")
        .map((line) => /^\s*([0-9a-f]{1,2})\s\s/.exec(line)?.[1])
        .filter((id) => id !== undefined)
        .map((id) => Number.parseInt(id, 16)),
    );
    for (const type of MBR_TYPE_NAMES.keys()) expect(mbrTypes.has(type), `0x${type.toString(16)}`).toBe(true);
  });
});
