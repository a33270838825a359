// Resize to the minimum size (Resize-VHD -ToMinimumSize): partition tables made
// by sfdisk on raw files, copied into VHDX images, shrunk to the end of their
// last partition (rounded up to a MiB), and checked with qemu-img (check,
// convert) and sfdisk (the table, and on GPT that the backup sits at the new
// end). Refusals leave the file byte for byte as it was.
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { oracles, qemuCheck, qemuConvertToRaw, tempDir } from "@vhdx-tools/oracles";
import { afterAll, describe, expect, it } from "vitest";
import { readPartitionTable } from "../src/index.js";
import { createVhdx, openVhdx, resizeVhdxToMinimum } from "../src/node/index.js";

const MiB = 1 << 20;
const dir = tempDir("vhdx-resize-minimum-");
afterAll(() => dir.remove());

/** A raw disk of `size` bytes partitioned with the sfdisk `script` (by fdisk -b 4096 for 4 KiB sectors, which sfdisk cannot be told). */
function partitionedRaw(name: string, size: number, script: string, sectorSize = 512): string {
  const path = join(dir.path, `${name}.raw`);
  writeFileSync(path, new Uint8Array(0));
  execFileSync("truncate", ["-s", String(size), path]);
  if (sectorSize === 512) {
    execFileSync("sfdisk", ["--quiet", path], { input: script, stdio: ["pipe", "ignore", "pipe"] });
  } else {
    writeFileSync(`${path}.script`, script);
    execFileSync("fdisk", ["-b", String(sectorSize), path], {
      input: `I\n${path}.script\nw\n`,
      stdio: ["pipe", "ignore", "pipe"],
    });
  }
  return path;
}

/** The raw file as a dynamic VHDX with 1 MiB blocks (its zeros unallocated), plus a byte pattern inside each partition. */
async function asVhdx(raw: string, sectorSize: 512 | 4096 = 512): Promise<string> {
  const bytes = readFileSync(raw);
  const path = raw.replace(/\.raw$/, ".vhdx");
  const image = await createVhdx(path, { size: bytes.length, blockSize: MiB, logicalSectorSize: sectorSize });
  for (let at = 0; at < bytes.length; at += MiB) {
    const piece = bytes.subarray(at, at + MiB);
    if (piece.some((b) => b !== 0)) await image.write(at, piece);
  }
  const table = await readPartitionTable(image);
  for (const partition of table.partitions) {
    await image.write(partition.start, new Uint8Array(4096).fill(0x40 + partition.index));
    await image.write(partition.start + partition.size - 4096, new Uint8Array(4096).fill(0x50 + partition.index));
  }
  await image.close();
  return path;
}

function sfdiskList(raw: string) {
  const listed = spawnSync("sfdisk", ["--list", raw], { encoding: "utf8" });
  const dumped = spawnSync("sfdisk", ["--json", raw], { encoding: "utf8" });
  return { warnings: listed.stderr, table: JSON.parse(dumped.stdout).partitiontable };
}

describe.skipIf(!oracles("qemu-img", "sfdisk", "fdisk"))("resize to the minimum size", () => {
  it("GPT: shrinks to the last partition plus the backup GPT, moved to the new end", async () => {
    const raw = partitionedRaw("gpt", 64 * MiB, "label: gpt\nstart=2048, size=20MiB\nsize=9MiB\n");
    const before = sfdiskList(raw).table;
    const file = await asVhdx(raw);
    const result = await resizeVhdxToMinimum(file);
    // Partitions end at 1 + 20 + 9 = 30 MiB; the backup needs 33 sectors more: 31 MiB.
    expect(result).toMatchObject({ oldSize: 64 * MiB, newSize: 31 * MiB });
    expect(result.minimum).toMatchObject({ scheme: "gpt", partitionsEnd: 30 * MiB, backupGptBytes: 33 * 512 });
    expect(qemuCheck(file)).toMatch(/No errors were found/);
    const shrunk = join(dir.path, "gpt-shrunk.raw");
    qemuConvertToRaw(file, shrunk);
    const after = sfdiskList(shrunk);
    expect(after.warnings).not.toMatch(/backup|GPT|corrupt/i);
    expect(after.table.partitions.map((p: { start: number; size: number }) => [p.start, p.size])).toEqual(
      before.partitions.map((p: { start: number; size: number }) => [p.start, p.size]),
    );
    expect(after.table.lastlba).toBe(31 * 2048 - 34);
    const image = await openVhdx(file);
    const table = await readPartitionTable(image);
    expect(table.findings).toEqual([]);
    expect(table.gpt).toMatchObject({ headerUsed: "primary", backupLba: 31 * 2048 - 1 });
    expect((await image.read(30 * MiB - 4096, 4096))[0]).toBe(0x52);
    await image.close();
  });

  it("GPT with 4 KiB sectors: the backup GPT is 5 sectors", async () => {
    const raw = partitionedRaw("gpt4k", 48 * MiB, "label: gpt\nstart=256, size=10MiB\n", 4096);
    const file = await asVhdx(raw, 4096);
    const result = await resizeVhdxToMinimum(file);
    expect(result).toMatchObject({ oldSize: 48 * MiB, newSize: 12 * MiB });
    expect(result.minimum.backupGptBytes).toBe(5 * 4096);
    const image = await openVhdx(file);
    const table = await readPartitionTable(image);
    expect(table.findings).toEqual([]);
    expect(table.gpt).toMatchObject({ headerUsed: "primary", backupLba: (12 * MiB) / 4096 - 1 });
    await image.close();
  });

  it("MBR: shrinks to the end of the last partition, rounded up to a MiB", async () => {
    const raw = partitionedRaw("mbr", 64 * MiB, "label: dos\nstart=2048, size=10000\nstart=22528, size=4096\n");
    const file = await asVhdx(raw);
    const result = await resizeVhdxToMinimum(file);
    // The last partition ends at sector 26624: 13 MiB.
    expect(result).toMatchObject({ oldSize: 64 * MiB, newSize: 13 * MiB });
    expect(qemuCheck(file)).toMatch(/No errors were found/);
    const shrunk = join(dir.path, "mbr-shrunk.raw");
    qemuConvertToRaw(file, shrunk);
    expect(sfdiskList(shrunk).table.partitions).toHaveLength(2);
    expect(sfdiskList(shrunk).warnings).toBe("");
  });

  it("refuses a disk with no partition table, and data past the last partition unless forced", async () => {
    const bare = join(dir.path, "bare.vhdx");
    await (await createVhdx(bare, { size: 8 * MiB, blockSize: MiB })).close();
    await expect(resizeVhdxToMinimum(bare)).rejects.toMatchObject({ code: "UNSUPPORTED" });

    const raw = partitionedRaw("stray", 32 * MiB, "label: gpt\nstart=2048, size=4MiB\n");
    const file = await asVhdx(raw);
    const image = await openVhdx(file, { readOnly: false });
    await image.write(20 * MiB, new Uint8Array(512).fill(7));
    await image.close();
    const bytes = readFileSync(file);
    await expect(resizeVhdxToMinimum(file)).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
      message: expect.stringMatching(/past its last partition/),
    });
    expect(Buffer.compare(readFileSync(file), bytes)).toBe(0);
    expect(await resizeVhdxToMinimum(file, { force: true })).toMatchObject({ newSize: 6 * MiB });
    expect(qemuCheck(file)).toMatch(/No errors were found/);
  });
});
