// readPartitionTable on disks built by hand: each rule of the MBR, EBR chain
// and GPT readers, and hostile input (random bytes, mutated tables with their
// CRCs fixed up, loops, huge counts) that must end in findings, never in a
// crash, a hang or a large read.
import { describe, expect, it } from "vitest";
import { MemorySource, VhdxError, createImage, openImage, readPartitionTable } from "../src/index.js";
import { crc32 } from "../src/partitions/crc32.js";
import { MAX_ENTRY_ARRAY_BYTES } from "../src/partitions/gpt-header.js";
import { MAX_EBRS } from "../src/partitions/read-mbr.js";
import { type GptSpec, fixGptHeaderCrc, gptDisk, memoryDisk, seededRandom, writeMbr } from "./partitions-disks.js";

const EFI = "c12a7328-f81f-11d2-ba4b-00a0c93ec93b";
const BASIC_DATA = "ebd0a0a2-b9e5-4433-87c0-68b6b72699c7";
const LINUX = "0fc63daf-8483-4772-8e79-3d69d8477de4";
const UNKNOWN_TYPE = "01234567-89ab-4cde-8f01-23456789abcd";

function threePartitions(sectorSize: 512 | 4096, sectorCount: number): GptSpec {
  return {
    sectorSize,
    sectorCount,
    diskGuid: "3a7d1e2b-4c5f-4e6a-9b8c-0d1e2f3a4b5c",
    entries: [
      { type: EFI, firstLba: 64, lastLba: 127, name: "EFI", attributes: 1n },
      { type: BASIC_DATA, firstLba: 128, lastLba: 255, name: "data", attributes: (1n << 63n) | 4n },
      { type: UNKNOWN_TYPE, guid: "0f0e0d0c-0b0a-4908-8706-050403020100", firstLba: 256, lastLba: 300 },
    ],
  };
}

const LAST_LBA_512 = 1023;
const gpt512 = () => gptDisk(threePartitions(512, LAST_LBA_512 + 1));

describe("CRC-32 (IEEE)", () => {
  it("gives the check value of the CRC catalogue for '123456789'", () => {
    expect(crc32(new TextEncoder().encode("123456789"))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });
});

describe("GPT", () => {
  it("lists each used entry with its type, name, GUID, bytes and attributes", async () => {
    const table = await readPartitionTable(memoryDisk(gpt512()));
    expect(table.findings).toEqual([]);
    expect(table.scheme).toBe("gpt");
    expect(table.sectorSize).toBe(512);
    expect(table.diskId).toBe("3a7d1e2b-4c5f-4e6a-9b8c-0d1e2f3a4b5c");
    expect(table.partitions).toEqual([
      {
        index: 1,
        type: EFI,
        typeName: "EFI System",
        name: "EFI",
        guid: "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee",
        start: 64 * 512,
        size: 64 * 512,
        attributes: "0x0000000000000001",
        bootable: false,
      },
      expect.objectContaining({
        index: 2,
        typeName: "Microsoft basic data",
        attributes: "0x8000000000000004",
        bootable: true,
      }),
      {
        index: 3,
        type: UNKNOWN_TYPE,
        guid: "0f0e0d0c-0b0a-4908-8706-050403020100",
        start: 256 * 512,
        size: 45 * 512,
        attributes: "0x0000000000000000",
        bootable: false,
      },
    ]);
    expect(table.gpt).toEqual({
      headerUsed: "primary",
      primaryLba: 1,
      backupLba: LAST_LBA_512,
      firstUsableLba: 34,
      lastUsableLba: LAST_LBA_512 - 33,
      entryArrayLba: 2,
      entryCount: 128,
      entrySize: 128,
    });
  });

  it("reads a whole GPT, backup included, in two reads: the first and the last 64 KiB", async () => {
    for (const [disk, sectorSize] of [
      [gpt512(), 512],
      [gptDisk(threePartitions(4096, 512)), 4096],
    ] as const) {
      const recording = memoryDisk(disk, sectorSize);
      expect((await readPartitionTable(recording)).partitions).toHaveLength(3);
      expect(recording.reads).toEqual([65536, 65536]);
    }
  });

  it("reads LBAs in 4096-byte sectors when the disk has them", async () => {
    const table = await readPartitionTable(memoryDisk(gptDisk(threePartitions(4096, 512)), 4096));
    expect(table.findings).toEqual([]);
    expect(table.partitions.map((p) => [p.start, p.size])).toEqual([
      [64 * 4096, 64 * 4096],
      [128 * 4096, 128 * 4096],
      [256 * 4096, 45 * 4096],
    ]);
    expect(table.gpt).toMatchObject({ firstUsableLba: 6, entryArrayLba: 2, backupLba: 511 });
  });

  it("numbers partitions by their entry, skipping unused entries", async () => {
    const spec = threePartitions(512, 1024);
    spec.entries.splice(1, 0, { type: "00000000-0000-0000-0000-000000000000", firstLba: 0, lastLba: 0 });
    const table = await readPartitionTable(memoryDisk(gptDisk(spec)));
    expect(table.partitions.map((p) => p.index)).toEqual([1, 3, 4]);
  });

  it("uses the backup header when the primary's CRC does not match", async () => {
    const disk = gpt512();
    disk[512 + 60]! ^= 0xff; // inside the disk GUID, CRC left as it was
    const table = await readPartitionTable(memoryDisk(disk));
    expect(table.scheme).toBe("gpt");
    expect(table.gpt?.headerUsed).toBe("backup");
    expect(table.partitions).toHaveLength(3);
    expect(table.findings).toHaveLength(1);
    expect(table.findings[0]).toMatch(/^the primary GPT header at LBA 1 cannot be used: its CRC-32 is 0x[0-9a-f]{8}/);
    expect(table.findings[0]).toMatch(/the backup at LBA 1023 is used$/);
  });

  it("uses the backup when the primary's entry array does not match its CRC", async () => {
    const disk = gpt512();
    disk[2 * 512 + 56]! ^= 1; // the first partition's name
    const table = await readPartitionTable(memoryDisk(disk));
    expect(table.gpt?.headerUsed).toBe("backup");
    expect(table.partitions[0]?.name).toBe("EFI");
    expect(table.findings[0]).toContain("partition entry array's CRC-32");
  });

  it("uses the backup when the primary says it lies elsewhere", async () => {
    const disk = gpt512();
    new DataView(disk.buffer).setBigUint64(512 + 24, 7n, true);
    fixGptHeaderCrc(disk, 512);
    const table = await readPartitionTable(memoryDisk(disk));
    expect(table.findings[0]).toContain("it says it is at LBA 7 but lies at LBA 1");
  });

  it("shows no partitions, and says why, when neither header can be used", async () => {
    const disk = gpt512();
    disk.fill(0, 512, 1024);
    disk.fill(0, LAST_LBA_512 * 512);
    const table = await readPartitionTable(memoryDisk(disk));
    expect(table.scheme).toBe("gpt");
    expect(table.partitions).toEqual([]);
    expect(table.findings).toEqual([
      'the primary GPT header at LBA 1 cannot be used: its signature is "\\u0000\\u0000\\u0000\\u0000\\u0000\\u0000\\u0000\\u0000", expected "EFI PART"',
      'the backup GPT header at LBA 1023 cannot be used: its signature is "\\u0000\\u0000\\u0000\\u0000\\u0000\\u0000\\u0000\\u0000", expected "EFI PART"',
    ]);
  });

  it("never reads an entry array larger than 1 MiB, whatever count the header gives", async () => {
    const disk = gpt512();
    for (const offset of [512, LAST_LBA_512 * 512]) {
      new DataView(disk.buffer).setUint32(offset + 80, 0xffffffff, true);
      fixGptHeaderCrc(disk, offset);
    }
    const recording = memoryDisk(disk);
    const table = await readPartitionTable(recording);
    expect(table.partitions).toEqual([]);
    expect(table.findings).toHaveLength(2);
    expect(table.findings[0]).toContain(`4294967295 x 128 bytes, more than the ${MAX_ENTRY_ARRAY_BYTES} bytes read`);
    expect(recording.reads).toEqual([65536, 65536]); // the head and tail windows, no entry array
  });

  it.each([
    [0, "its partition entry size is 0"],
    [100, "its partition entry size is 100"],
    [384, "its partition entry size is 384"],
    [0x80000000, "its partition entry array would be 128 x 2147483648 bytes, more than the 1048576 bytes read"],
  ])("refuses a header with entries of %i bytes (or too many of them)", async (entrySize, message) => {
    const disk = gpt512();
    new DataView(disk.buffer).setUint32(512 + 84, entrySize, true);
    fixGptHeaderCrc(disk, 512);
    const table = await readPartitionTable(memoryDisk(disk));
    expect(table.gpt?.headerUsed).toBe("backup");
    expect(table.findings[0]).toContain(message);
  });

  it("refuses a header whose entry array lies past the end of the disk or over the header", async () => {
    for (const [arrayLba, message] of [
      [2n ** 63n, "lies outside the disk's LBAs 2 to 1023"],
      [1020n, "lies outside the disk's LBAs 2 to 1023"],
      [1n, "lies outside the disk's LBAs 2 to 1023"],
    ] as const) {
      const disk = gpt512();
      new DataView(disk.buffer).setBigUint64(512 + 72, arrayLba, true);
      fixGptHeaderCrc(disk, 512);
      const table = await readPartitionTable(memoryDisk(disk));
      expect(table.findings[0]).toContain(message);
    }
    const disk = gpt512();
    new DataView(disk.buffer).setBigUint64(LAST_LBA_512 * 512 + 72, 1000n, true);
    fixGptHeaderCrc(disk, LAST_LBA_512 * 512);
    const table = await readPartitionTable(memoryDisk(disk));
    expect(table.findings).toEqual([
      "the backup GPT header at LBA 1023 cannot be used: its partition entry array (LBA 1000 to 1031) lies outside the disk's LBAs 2 to 1023",
    ]);
  });

  it("names each partition that lies outside the disk or the usable LBAs, ends before it starts, or overlaps", async () => {
    const spec = threePartitions(512, 1024);
    spec.entries = [
      { type: LINUX, firstLba: 900, lastLba: 5000 },
      { type: LINUX, firstLba: 200, lastLba: 100 },
      { type: LINUX, firstLba: 10, lastLba: 40 },
      { type: LINUX, firstLba: 34, lastLba: 99 },
      { type: LINUX, firstLba: 90, lastLba: 120 },
      { type: LINUX, firstLba: 2 ** 52, lastLba: 2 ** 52 + 10 },
    ];
    const table = await readPartitionTable(memoryDisk(gptDisk(spec)));
    expect(table.findings).toEqual([
      "partition 1 (LBA 900 to 5000) runs past the end of the disk (LBA 1023)",
      "partition 2 ends at LBA 100, before it starts at LBA 200",
      "partition 3 (LBA 10 to 40) lies outside the usable LBAs 34 to 990",
      "partition 6 (LBA 4503599627370496 to 4503599627370506) runs past the end of the disk (LBA 1023)",
      "partitions 3 and 4 overlap",
      "partitions 4 and 5 overlap",
    ]);
    expect(table.partitions[1]?.size).toBe(0);
  });

  it("notes a backup header that is missing, damaged, elsewhere or different", async () => {
    const damaged = gpt512();
    damaged[LAST_LBA_512 * 512 + 60]! ^= 0xff;
    expect((await readPartitionTable(memoryDisk(damaged))).findings).toEqual([
      expect.stringMatching(/^the backup GPT header at LBA 1023 cannot be used: its CRC-32 is /),
    ]);

    const enlarged = new Uint8Array(2048 * 512);
    enlarged.set(gpt512());
    const grown = await readPartitionTable(memoryDisk(enlarged));
    expect(grown.findings).toEqual([
      "the primary GPT header puts the backup at LBA 1023, not at the disk's last LBA 2047: the disk changed size after it was partitioned",
    ]);
    expect(grown.partitions).toHaveLength(3);

    const shrunk = await readPartitionTable(memoryDisk(gpt512().subarray(0, 512 * 512)));
    expect(shrunk.findings).toEqual([
      "the primary GPT header puts the backup at LBA 1023, not at the disk's last LBA 511: the disk changed size after it was partitioned",
      "the GPT's last usable LBA 990 is past the end of the disk (LBA 511)",
      "the backup GPT header at LBA 1023 cannot be used: it lies past the end of the disk",
    ]);

    const other = gpt512();
    const otherSpec = threePartitions(512, 1024);
    otherSpec.entries.pop();
    other.set(gptDisk(otherSpec).subarray(990 * 512), 990 * 512);
    expect((await readPartitionTable(memoryDisk(other))).findings).toEqual([
      "the backup GPT at LBA 1023 lists other partitions than the primary",
    ]);
  });

  it("reads a GPT without a protective MBR, and notes a hybrid MBR", async () => {
    const bare = gpt512();
    bare.fill(0, 0, 512);
    const table = await readPartitionTable(memoryDisk(bare));
    expect(table.scheme).toBe("gpt");
    expect(table.partitions).toHaveLength(3);
    expect(table.findings).toEqual([
      "LBA 1 holds a GPT header but LBA 0 no protective MBR (type 0xEE); the GPT is read anyway",
    ]);

    const hybrid = gpt512();
    writeMbr(hybrid, 0, [
      { type: 0xee, firstLba: 1, sectorCount: 63 },
      { type: 0x07, firstLba: 128, sectorCount: 128 },
    ]);
    expect((await readPartitionTable(memoryDisk(hybrid))).findings).toEqual([
      "the protective MBR also lists 1 other partition(s) (a hybrid MBR); only the GPT's are shown",
    ]);
  });
});

describe("MBR", () => {
  const mbrDisk = () => {
    const disk = new Uint8Array(4096 * 512);
    writeMbr(
      disk,
      0,
      [
        { status: 0x80, type: 0x07, firstLba: 2048, sectorCount: 1024 },
        { type: 0x0f, firstLba: 3072, sectorCount: 1000 },
      ],
      0x1a2b3c4d,
    );
    writeMbr(disk, 3072 * 512, [
      { type: 0x83, firstLba: 8, sectorCount: 100 },
      { type: 0x05, firstLba: 200, sectorCount: 300 },
    ]);
    writeMbr(disk, (3072 + 200) * 512, [{ type: 0x82, firstLba: 2, sectorCount: 50 }]);
    return disk;
  };

  it("lists the primary entries, then the logical partitions of the extended one", async () => {
    const table = await readPartitionTable(memoryDisk(mbrDisk()));
    expect(table).toEqual({
      scheme: "mbr",
      sectorSize: 512,
      diskId: "0x1a2b3c4d",
      findings: [],
      partitions: [
        {
          index: 1,
          type: "0x07",
          typeName: "NTFS / exFAT / HPFS",
          start: 2048 * 512,
          size: 1024 * 512,
          bootable: true,
          kind: "primary",
        },
        {
          index: 2,
          type: "0x0f",
          typeName: "Extended (LBA)",
          start: 3072 * 512,
          size: 1000 * 512,
          bootable: false,
          kind: "extended",
        },
        {
          index: 5,
          type: "0x83",
          typeName: "Linux",
          start: 3080 * 512,
          size: 100 * 512,
          bootable: false,
          kind: "logical",
        },
        {
          index: 6,
          type: "0x82",
          typeName: "Linux swap",
          start: 3274 * 512,
          size: 50 * 512,
          bootable: false,
          kind: "logical",
        },
      ],
    });
  });

  it("stops at an EBR chain that loops, and says so", async () => {
    const disk = mbrDisk();
    writeMbr(disk, (3072 + 200) * 512, [
      { type: 0x82, firstLba: 2, sectorCount: 50 },
      { type: 0x05, firstLba: 0, sectorCount: 300 },
    ]);
    const table = await readPartitionTable(memoryDisk(disk));
    expect(table.partitions.map((p) => p.index)).toEqual([1, 2, 5, 6]);
    expect(table.findings).toEqual(["the chain of EBRs loops back to LBA 3072"]);
  });

  it(`reads at most ${MAX_EBRS} EBRs`, async () => {
    const disk = new Uint8Array(1024 * 512);
    writeMbr(disk, 0, [{ type: 0x05, firstLba: 2, sectorCount: 1000 }]);
    for (let i = 0; i < 400; i++) {
      writeMbr(disk, (2 + 2 * i) * 512, [
        { type: 0x83, firstLba: 1, sectorCount: 1 },
        { type: 0x05, firstLba: 2 * (i + 1), sectorCount: 2 },
      ]);
    }
    const recording = memoryDisk(disk);
    const table = await readPartitionTable(recording);
    expect(table.partitions).toHaveLength(1 + MAX_EBRS);
    expect(table.partitions.at(-1)?.index).toBe(4 + MAX_EBRS);
    expect(table.findings).toEqual([
      `the chain of EBRs is longer than ${MAX_EBRS}; the logical partitions after it are not read`,
    ]);
    expect(recording.reads.length).toBeLessThanOrEqual(2 + MAX_EBRS);
  });

  it("stops at an EBR outside its extended partition or without its signature", async () => {
    const outside = mbrDisk();
    writeMbr(outside, 3072 * 512, [
      { type: 0x83, firstLba: 8, sectorCount: 100 },
      { type: 0x05, firstLba: 5000, sectorCount: 300 },
    ]);
    expect((await readPartitionTable(memoryDisk(outside))).findings).toEqual([
      "an EBR at LBA 8072 would lie outside its extended partition (LBA 3072 to 4071)",
    ]);

    const unsigned = mbrDisk();
    unsigned.fill(0, (3072 + 200) * 512 + 510, (3072 + 200) * 512 + 512);
    const table = await readPartitionTable(memoryDisk(unsigned));
    expect(table.partitions.map((p) => p.index)).toEqual([1, 2, 5]);
    expect(table.findings).toEqual([
      "the EBR at LBA 3272 lacks the 0x55AA signature; the logical partitions from there on are not read",
    ]);
  });

  it("names partitions past the end of the disk or of their extended partition, and overlaps", async () => {
    const disk = mbrDisk();
    writeMbr(
      disk,
      0,
      [
        { type: 0x07, firstLba: 2048, sectorCount: 1024 },
        { type: 0x0f, firstLba: 3072, sectorCount: 1000 },
        { type: 0x0c, firstLba: 2500, sectorCount: 0xffffffff },
      ],
      0,
    );
    writeMbr(disk, (3072 + 200) * 512, [{ type: 0x82, firstLba: 2, sectorCount: 5000 }]);
    const table = await readPartitionTable(memoryDisk(disk));
    expect(table.findings).toEqual([
      "partition 3 (LBA 2500 to 4294969794) runs past the end of the disk (LBA 4095)",
      "partition 6 (LBA 3274 to 8273) runs past the end of the disk (LBA 4095)",
      "logical partition 6 runs past the end of its extended partition",
      "partitions 1 and 3 overlap",
      "partitions 3 and 5 overlap",
      "partitions 3 and 6 overlap",
    ]);
  });

  it("takes a boot sector whose entries have other status bytes for no MBR", async () => {
    const disk = new Uint8Array(64 * 512);
    writeMbr(disk, 0, [
      { type: 0x07, firstLba: 1, sectorCount: 10 },
      { status: 0x4e, type: 0x54, firstLba: 0x46532020, sectorCount: 0x20 },
    ]);
    const table = await readPartitionTable(memoryDisk(disk));
    expect(table.scheme).toBe("none");
    expect(table.findings).toEqual([
      "sector 0 ends in 0x55AA but entry 2 has status 0x4e, so it is no MBR (a file system without a partition table?)",
    ]);
  });
});

describe("disks without a partition table", () => {
  it("says none, without findings, for a blank disk", async () => {
    expect(await readPartitionTable(memoryDisk(new Uint8Array(1 << 20)))).toEqual({
      scheme: "none",
      sectorSize: 512,
      partitions: [],
      findings: [],
    });
  });

  it("says none for a disk smaller than one sector", async () => {
    const table = await readPartitionTable(memoryDisk(new Uint8Array(4000), 4096));
    expect(table).toMatchObject({ scheme: "none", findings: ["the disk is smaller than one 4096-byte sector"] });
  });

  it("refuses a sector size other than 512 or 4096 with INVALID_ARGUMENT", async () => {
    const error = await readPartitionTable(memoryDisk(new Uint8Array(4096), 1024)).catch((e: unknown) => e);
    expect(VhdxError.isInstance(error) && error.code).toBe("INVALID_ARGUMENT");
  });
});

describe("a VhdxImage as the disk", () => {
  it("reads the table of a 4096-byte-sector image made in memory", async () => {
    const raw = gptDisk(threePartitions(4096, 2048));
    const image = await createImage(new MemorySource(), {
      size: raw.length,
      logicalSectorSize: 4096,
      blockSize: 1 << 20,
    });
    await image.write(0, raw);
    await image.flush();
    const table = await readPartitionTable(await openImage(image.source, { readOnly: true }));
    expect(table.findings).toEqual([]);
    expect(table.sectorSize).toBe(4096);
    expect(table.partitions.map((p) => [p.index, p.name, p.start])).toEqual([
      [1, "EFI", 64 * 4096],
      [2, "data", 128 * 4096],
      [3, undefined, 256 * 4096],
    ]);
    await image.close();
  });
});

describe("hostile input", () => {
  const check = async (disk: Uint8Array, sectorSize: 512 | 4096 = 512) => {
    const recording = memoryDisk(disk, sectorSize);
    const table = await readPartitionTable(recording);
    expect(["gpt", "mbr", "none"]).toContain(table.scheme);
    expect(Math.max(0, ...recording.reads)).toBeLessThanOrEqual(MAX_ENTRY_ARRAY_BYTES);
    expect(recording.reads.length).toBeLessThanOrEqual(MAX_EBRS + 8);
    return table;
  };

  it("answers random bytes with a table or findings, never an error", async () => {
    const random = seededRandom(17);
    for (let round = 0; round < 300; round++) {
      const disk = new Uint8Array(512 * (1 + Math.floor(random() * 128)));
      for (let i = 0; i < disk.length; i++) disk[i] = random() * 256;
      if (round % 2 === 0) disk.set([0x55, 0xaa], 510); // an MBR signature, so the entries are followed
      if (round % 3 === 0 && disk.length >= 1024)
        disk.set(
          [..."EFI PART"].map((c) => c.charCodeAt(0)),
          512,
        );
      await check(disk);
    }
  });

  it("answers GPT headers and entries mutated with their CRCs fixed with findings, never an error", async () => {
    const random = seededRandom(4242);
    const fields = [8, 12, 24, 32, 40, 48, 72, 80, 84] as const;
    for (let round = 0; round < 400; round++) {
      const disk = gpt512();
      const view = new DataView(disk.buffer);
      const field = fields[Math.floor(random() * fields.length)]!;
      const value = Math.floor(random() * 0x100000000);
      if (field >= 24 && field !== 80 && field !== 84) {
        view.setBigUint64(512 + field, random() < 0.5 ? BigInt(value) : BigInt(value) << 32n, true);
      } else {
        view.setUint32(512 + field, random() < 0.5 ? value : value & 0xfff, true);
      }
      const entryByte = 2 * 512 + Math.floor(random() * 3 * 128);
      disk[entryByte] = random() * 256;
      view.setUint32(512 + 88, crc32(disk.subarray(1024, 1024 + 128 * 128)), true);
      fixGptHeaderCrc(disk, 512);
      await check(disk);
    }
  });
});
