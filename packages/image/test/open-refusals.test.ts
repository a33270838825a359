// Every rule openImage enforces, broken once in an otherwise valid image made
// by the generator; structures are re-encoded so their checksums stay right
// unless the checksum is what the test breaks.
import { STATE, buildVhdx } from "@vhdx-tools/fixtures";
import {
  BAT_REGION_GUID,
  FILE_PARAMETERS_GUID,
  type Header,
  LOGICAL_SECTOR_SIZE_GUID,
  METADATA_REGION_GUID,
  type MetadataTable,
  type RegionTable,
  VIRTUAL_DISK_SIZE_GUID,
  decodeHeader,
  decodeMetadataTable,
  decodeRegionTable,
  encodeHeader,
  encodeMetadataTable,
  encodeRegionTable,
} from "@vhdx/structs";
import { describe, expect, it } from "vitest";
import { MemorySource, VhdxError, openImage } from "../src/index.js";

const MiB = 1 << 20;
const H1 = 0x10000;
const H2 = 0x20000;
const RT1 = 0x30000;
const RT2 = 0x40000;

function baseImage() {
  return buildVhdx({
    virtualSize: 8 * MiB,
    blockSize: MiB,
    type: "dynamic",
    blocks: { 0: { state: STATE.FULLY_PRESENT }, 1: { state: STATE.FULLY_PRESENT }, 2: { state: STATE.FULLY_PRESENT } },
  });
}

function patchHeader(bytes: Uint8Array, offset: number, change: (h: Header) => Partial<Header>) {
  const header = decodeHeader(bytes, offset);
  bytes.set(encodeHeader({ ...header, ...change(header), checksum: undefined }), offset);
}

function patchRegionTables(bytes: Uint8Array, change: (t: RegionTable) => RegionTable, offsets = [RT1, RT2]) {
  for (const offset of offsets) {
    const table = change(decodeRegionTable(bytes, offset));
    bytes.set(encodeRegionTable({ entries: table.entries }), offset);
  }
}

function patchMetadataTable(bytes: Uint8Array, regionOffset: number, change: (t: MetadataTable) => MetadataTable) {
  const table = change(decodeMetadataTable(bytes, regionOffset));
  bytes.set(encodeMetadataTable({ entries: table.entries }), regionOffset);
}

function setU32(bytes: Uint8Array, offset: number, value: number) {
  new DataView(bytes.buffer, bytes.byteOffset).setUint32(offset, value, true);
}

function setBatEntry(bytes: Uint8Array, batOffset: number, index: number, state: number, offsetMB: number) {
  setU32(bytes, batOffset + index * 8, ((offsetMB % 4096) << 20) | state);
  setU32(bytes, batOffset + index * 8 + 4, Math.floor(offsetMB / 4096));
}

async function refusal(bytes: Uint8Array, code: string, pattern?: RegExp): Promise<VhdxError> {
  const error = await openImage(new MemorySource(bytes)).then(
    () => null,
    (e: unknown) => e,
  );
  expect(VhdxError.isInstance(error), `expected ${code}, got ${String(error)}`).toBe(true);
  expect((error as VhdxError).code, (error as Error).message).toBe(code);
  if (pattern) expect((error as Error).message).toMatch(pattern);
  return error as VhdxError;
}

describe("the file identifier and headers", () => {
  it("refuses a file without the vhdxfile signature", async () => {
    const { bytes } = baseImage();
    bytes.set(new TextEncoder().encode("vhdyfile"), 0);
    const error = await refusal(bytes, "BAD_SIGNATURE", /file identifier @0x0/);
    expect(error.offset).toBe(0);
  });

  it("refuses a file shorter than the header section", async () => {
    await refusal(baseImage().bytes.slice(0, 0x48000), "TRUNCATED");
    // An empty file is no VHDX at all, not a truncated one.
    await refusal(new Uint8Array(0), "NOT_VHDX");
  });

  it("uses the header with the larger sequence number, and the other one when it is damaged", async () => {
    const { bytes } = baseImage();
    patchHeader(bytes, H1, () => ({ sequenceNumber: 9n, dataWriteGuid: "11111111-1111-4111-8111-111111111111" }));
    const first = await openImage(new MemorySource(bytes));
    expect(first.headerSlot).toBe(1);
    expect(first.dataWriteGuid).toBe("11111111-1111-4111-8111-111111111111");
    bytes[H1 + 100]! ^= 0xff;
    const second = await openImage(new MemorySource(bytes));
    expect(second.headerSlot).toBe(2);
  });

  it("refuses a file with no valid header (NO_VALID_HEADER)", async () => {
    const { bytes } = baseImage();
    bytes[H1 + 200]! ^= 1;
    bytes.set(new TextEncoder().encode("daeh"), H2);
    await refusal(bytes, "NO_VALID_HEADER");
  });

  it("refuses two valid headers with one sequence number and different contents (AMBIGUOUS_HEADER)", async () => {
    const { bytes } = baseImage();
    patchHeader(bytes, H1, () => ({ sequenceNumber: 5n }));
    patchHeader(bytes, H2, () => ({ sequenceNumber: 5n }));
    await refusal(bytes, "AMBIGUOUS_HEADER");
    patchHeader(bytes, H2, () => decodeHeader(bytes, H1));
    const image = await openImage(new MemorySource(bytes));
    expect(image.header.sequenceNumber).toBe(5n);
  });

  it("refuses a header version other than 1, and a log version other than 0 when there is a log", async () => {
    const v2 = baseImage().bytes;
    patchHeader(v2, H2, () => ({ version: 2 }));
    await refusal(v2, "BAD_VERSION", /version/);
    const log = baseImage().bytes;
    patchHeader(log, H2, () => ({ logVersion: 1, logGuid: "22222222-2222-4222-8222-222222222222" }));
    await refusal(log, "BAD_VERSION", /log version/);
  });

  it("refuses a LogGuid whose log holds no valid entry (LOG_CORRUPT)", async () => {
    const { bytes } = baseImage();
    patchHeader(bytes, H2, () => ({ logGuid: "22222222-2222-4222-8222-222222222222" }));
    await refusal(bytes, "LOG_CORRUPT");
  });
});

describe("the region table", () => {
  it("falls back to copy 2 when copy 1 is damaged", async () => {
    const { bytes, expected } = baseImage();
    bytes[RT1 + 40]! ^= 0x10;
    const image = await openImage(new MemorySource(bytes));
    expect(image.regionTableCopy).toBe(2);
    expect(Buffer.compare(await image.read(0, 8 * MiB), expected)).toBe(0);
  });

  it("refuses when both copies are damaged", async () => {
    const { bytes } = baseImage();
    bytes[RT1 + 40]! ^= 0x10;
    bytes[RT2 + 40]! ^= 0x10;
    await refusal(bytes, "CHECKSUM_MISMATCH", /both copies/);
  });

  it("refuses an entry count over 2047", async () => {
    const { bytes } = baseImage();
    for (const offset of [RT1, RT2]) setU32(bytes, offset + 8, 2048);
    await refusal(bytes, "BAD_FIELD");
  });

  it("refuses a GUID that appears twice", async () => {
    const { bytes } = baseImage();
    patchRegionTables(bytes, (t) => ({ ...t, entries: [...t.entries, { ...t.entries[0]!, fileOffset: 20 * MiB }] }));
    await refusal(bytes, "BAD_FIELD", /BAT|2dc27766|twice|duplicate/i);
  });

  it("refuses an unknown required region and opens with an unknown optional one", async () => {
    const { bytes } = baseImage();
    const unknown = {
      guid: "12345678-1234-4234-8234-123456789abc",
      fileOffset: 30 * MiB,
      length: MiB,
      required: true,
      reserved: 0,
    };
    patchRegionTables(bytes, (t) => ({ ...t, entries: [...t.entries, unknown] }));
    await refusal(bytes, "UNKNOWN_REQUIRED_REGION");
    patchRegionTables(bytes, (t) => ({
      ...t,
      entries: t.entries.map((e) => (e.guid === unknown.guid ? { ...e, required: false } : e)),
    }));
    expect((await openImage(new MemorySource(bytes))).regionTable.entries).toHaveLength(3);
  });

  it("refuses a missing BAT or metadata region (MISSING_REGION)", async () => {
    for (const guid of [BAT_REGION_GUID, METADATA_REGION_GUID]) {
      const { bytes } = baseImage();
      patchRegionTables(bytes, (t) => ({ ...t, entries: t.entries.filter((e) => e.guid !== guid) }));
      await refusal(bytes, "MISSING_REGION");
    }
  });

  it("refuses regions that are not 1 MiB-aligned, overlap each other, or lie in the header section", async () => {
    const unaligned = baseImage().bytes;
    patchRegionTables(unaligned, (t) => ({
      ...t,
      entries: t.entries.map((e) => (e.guid === BAT_REGION_GUID ? { ...e, fileOffset: e.fileOffset + 4096 } : e)),
    }));
    await refusal(unaligned, "BAD_FIELD");
    const overlapping = baseImage();
    patchRegionTables(overlapping.bytes, (t) => ({
      ...t,
      entries: t.entries.map((e) =>
        e.guid === BAT_REGION_GUID ? { ...e, fileOffset: overlapping.offsets.metadata } : e,
      ),
    }));
    await refusal(overlapping.bytes, "REGION_OVERLAP");
    const overLog = baseImage();
    patchRegionTables(overLog.bytes, (t) => ({
      ...t,
      entries: t.entries.map((e) => (e.guid === BAT_REGION_GUID ? { ...e, fileOffset: overLog.offsets.log } : e)),
    }));
    await refusal(overLog.bytes, "REGION_OVERLAP");
    const inHeader = baseImage().bytes;
    patchRegionTables(inHeader, (t) => ({
      ...t,
      entries: t.entries.map((e) => (e.guid === METADATA_REGION_GUID ? { ...e, fileOffset: 0 } : e)),
    }));
    const error = await openImage(new MemorySource(inHeader)).catch((e: VhdxError) => e);
    expect(VhdxError.isInstance(error) && ["REGION_OVERLAP", "BAD_FIELD"].includes(error.code)).toBe(true);
  });

  it("refuses a log that overlaps a region", async () => {
    const fixture = baseImage();
    for (const offset of [H1, H2]) patchHeader(fixture.bytes, offset, () => ({ logOffset: fixture.offsets.metadata }));
    await refusal(fixture.bytes, "REGION_OVERLAP");
  });
});

describe("the metadata region", () => {
  it("refuses an unknown required item and opens with an unknown optional one", async () => {
    const fixture = baseImage();
    const item = {
      itemId: "abcdefab-cdef-4abc-8def-abcdefabcdef",
      offset: 200 * 1024,
      length: 8,
      isUser: false,
      isVirtualDisk: false,
      isRequired: true,
      reserved: 0,
      reserved2: 0,
    };
    patchMetadataTable(fixture.bytes, fixture.offsets.metadata, (t) => ({ ...t, entries: [...t.entries, item] }));
    await refusal(fixture.bytes, "UNKNOWN_REQUIRED_METADATA");
    patchMetadataTable(fixture.bytes, fixture.offsets.metadata, (t) => ({
      ...t,
      entries: t.entries.map((e) => (e.itemId === item.itemId ? { ...e, isRequired: false } : e)),
    }));
    await openImage(new MemorySource(fixture.bytes));
  });

  it("refuses when a system item is missing", async () => {
    const fixture = baseImage();
    patchMetadataTable(fixture.bytes, fixture.offsets.metadata, (t) => ({
      ...t,
      entries: t.entries.filter((e) => e.itemId !== VIRTUAL_DISK_SIZE_GUID),
    }));
    await refusal(fixture.bytes, "MISSING_METADATA");
  });

  it("refuses an item that lies outside the region", async () => {
    const fixture = baseImage();
    patchMetadataTable(fixture.bytes, fixture.offsets.metadata, (t) => ({
      ...t,
      entries: t.entries.map((e) => (e.itemId === FILE_PARAMETERS_GUID ? { ...e, offset: MiB - 4 } : e)),
    }));
    await refusal(fixture.bytes, "BAD_FIELD");
  });

  it("refuses a bad block size, sector size or virtual size", async () => {
    const itemOffset = (fixture: ReturnType<typeof baseImage>, guid: string) =>
      fixture.offsets.metadata +
      decodeMetadataTable(fixture.bytes, fixture.offsets.metadata).entries.find((e) => e.itemId === guid)!.offset;
    const block = baseImage();
    setU32(block.bytes, itemOffset(block, FILE_PARAMETERS_GUID), 3 * MiB);
    await refusal(block.bytes, "BAD_FIELD", /block/i);
    const sector = baseImage();
    setU32(sector.bytes, itemOffset(sector, LOGICAL_SECTOR_SIZE_GUID), 1024);
    await refusal(sector.bytes, "BAD_FIELD");
    const size = baseImage();
    setU32(size.bytes, itemOffset(size, VIRTUAL_DISK_SIZE_GUID), 8 * MiB + 100);
    await refusal(size.bytes, "BAD_FIELD");
    const huge = baseImage();
    const at = itemOffset(huge, VIRTUAL_DISK_SIZE_GUID);
    setU32(huge.bytes, at, 0);
    setU32(huge.bytes, at + 4, 0x10000);
    await refusal(huge.bytes, "BAD_FIELD");
  });
});

describe("the BAT", () => {
  it("refuses a BAT region too small for the disk's geometry", async () => {
    const fixture = baseImage();
    const itemAt =
      fixture.offsets.metadata +
      decodeMetadataTable(fixture.bytes, fixture.offsets.metadata).entries.find(
        (e) => e.itemId === VIRTUAL_DISK_SIZE_GUID,
      )!.offset;
    setU32(fixture.bytes, itemAt, 0);
    setU32(fixture.bytes, itemAt + 4, 64); // 256 GiB: 262207 entries, 2 MiB of BAT in a 1 MiB region
    await refusal(fixture.bytes, "CORRUPT_BAT", /BAT region/);
  });

  it("refuses a block past the end of the file when read, and reads the others", async () => {
    const fixture = baseImage();
    setBatEntry(fixture.bytes, fixture.offsets.bat, 1, STATE.FULLY_PRESENT, 1000);
    const image = await openImage(new MemorySource(fixture.bytes));
    const error = await image.read(MiB, 10).catch((e: VhdxError) => e);
    expect(VhdxError.isInstance(error) && error.code).toBe("CORRUPT_BAT");
    expect((error as VhdxError).offset).toBe(fixture.offsets.bat + 8);
    expect(Buffer.compare(await image.read(0, MiB), fixture.expectedAt(0, MiB))).toBe(0);
  });

  it("refuses a block in the header section", async () => {
    const fixture = baseImage();
    setBatEntry(fixture.bytes, fixture.offsets.bat, 2, STATE.FULLY_PRESENT, 0);
    const image = await openImage(new MemorySource(fixture.bytes));
    await expect(image.read(2 * MiB, 1)).rejects.toMatchObject({ code: "CORRUPT_BAT" });
  });

  it("refuses both of two blocks that overlap, and a block over the metadata region", async () => {
    const fixture = baseImage();
    const block0MB = fixture.offsets.firstBlock / MiB;
    setBatEntry(fixture.bytes, fixture.offsets.bat, 2, STATE.FULLY_PRESENT, block0MB);
    setBatEntry(fixture.bytes, fixture.offsets.bat, 3, STATE.FULLY_PRESENT, fixture.offsets.metadata / MiB);
    const image = await openImage(new MemorySource(fixture.bytes));
    for (const block of [0, 2, 3]) {
      await expect(image.read(block * MiB, 1), `block ${block}`).rejects.toMatchObject({ code: "CORRUPT_BAT" });
    }
    expect(Buffer.compare(await image.read(MiB, MiB), fixture.expectedAt(MiB, MiB))).toBe(0);
  });

  it("refuses a reserved state (4) and a partially present block in a disk without a parent", async () => {
    for (const state of [4, STATE.PARTIALLY_PRESENT]) {
      const fixture = baseImage();
      setBatEntry(fixture.bytes, fixture.offsets.bat, 5, state, 0);
      const image = await openImage(new MemorySource(fixture.bytes));
      await expect(image.read(5 * MiB, 512), `state ${state}`).rejects.toMatchObject({ code: "CORRUPT_BAT" });
    }
  });

  it("refuses a partially present block whose chunk has no sector bitmap", async () => {
    const parent = baseImage();
    const child = buildVhdx({
      virtualSize: 8 * MiB,
      blockSize: MiB,
      type: "differencing",
      parent: { dataWriteGuid: parent.dataWriteGuid, paths: { relative_path: "p.vhdx" } },
      blocks: { 1: { state: STATE.PARTIALLY_PRESENT, presentSectors: (s) => s === 0 } },
    });
    const chunkRatio = (2 ** 23 * 512) / MiB;
    setBatEntry(child.bytes, child.offsets.bat, chunkRatio, 0, 0);
    const image = await openImage(new MemorySource(child.bytes), { parents: [new MemorySource(parent.bytes)] });
    const error = await image.read(MiB, 512).catch((e: VhdxError) => e);
    expect(VhdxError.isInstance(error) && ["CORRUPT_BAT", "CORRUPT_BITMAP"].includes(error.code)).toBe(true);
  });
});
