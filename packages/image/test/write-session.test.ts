// When a write session starts: only on the first change a reader could see.
// Operations that change nothing leave the file (and so a parent's linkage to
// its children) byte for byte as it was.
import { STATE, buildVhdx } from "@vhdx-tools/fixtures";
import { describe, expect, it } from "vitest";
import { MemorySource, openImage } from "../src/index.js";

const MiB = 1 << 20;

describe("operations that change nothing", () => {
  it("leave a dynamic disk untouched: zeros over zeros, partial discards", async () => {
    const fixture = buildVhdx({
      virtualSize: 4 * MiB,
      blockSize: MiB,
      type: "dynamic",
      blocks: { 1: { state: STATE.FULLY_PRESENT }, 2: { state: STATE.ZERO } },
    });
    const source = new MemorySource(fixture.bytes.slice());
    const image = await openImage(source, { readOnly: false });
    await image.writeZeroes(0, MiB);
    await image.writeZeroes(2 * MiB + 100, 5000);
    await image.discard(MiB + 10, 1000);
    await image.discard(3 * MiB, MiB);
    await image.close();
    expect(Buffer.compare(source.bytes(), fixture.bytes)).toBe(0);
  });

  it("leave a differencing disk untouched: discarding blocks that read from the parent", async () => {
    const parent = buildVhdx({
      virtualSize: 4 * MiB,
      blockSize: MiB,
      type: "dynamic",
      blocks: { 0: { state: STATE.FULLY_PRESENT } },
    });
    const child = buildVhdx(
      {
        virtualSize: 4 * MiB,
        blockSize: MiB,
        type: "differencing",
        parent: { dataWriteGuid: parent.dataWriteGuid, paths: { relative_path: "p" } },
      },
      parent,
    );
    const source = new MemorySource(child.bytes.slice());
    const image = await openImage(source, {
      readOnly: false,
      parents: [await openImage(new MemorySource(parent.bytes))],
    });
    await image.discard(0, 4 * MiB);
    await image.close();
    expect(Buffer.compare(source.bytes(), child.bytes)).toBe(0);
  });

  it("while a real change starts the session: new DataWriteGuid and FileWriteGuid", async () => {
    const fixture = buildVhdx({
      virtualSize: 4 * MiB,
      blockSize: MiB,
      type: "dynamic",
      blocks: { 1: { state: STATE.FULLY_PRESENT } },
    });
    const image = await openImage(new MemorySource(fixture.bytes.slice()), { readOnly: false });
    const before = { data: image.dataWriteGuid, file: image.fileWriteGuid };
    await image.writeZeroes(MiB, MiB);
    expect(image.dataWriteGuid).not.toBe(before.data);
    expect(image.fileWriteGuid).not.toBe(before.file);
    expect((await image.read(MiB, MiB)).every((b) => b === 0)).toBe(true);
    await image.close();
  });
});

describe("what the writer must carry through untouched", () => {
  it("keeps unknown optional regions, unknown optional items and user items byte for byte", async () => {
    const fixture = buildVhdx({
      virtualSize: 4 * MiB,
      blockSize: MiB,
      type: "dynamic",
      extraRegions: [{ guid: "11111111-2222-4333-8444-555555555555", required: false }],
      extraItems: [
        {
          itemId: "66666666-7777-4888-9999-aaaaaaaaaaaa",
          isUser: false,
          isRequired: false,
          data: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8),
        },
        { itemId: "bbbbbbbb-cccc-4ddd-8eee-ffffffffffff", isUser: true, isRequired: false, data: Uint8Array.of(9, 10) },
      ],
    });
    const source = new MemorySource(fixture.bytes.slice());
    const image = await openImage(source, { readOnly: false });
    const extraRegion = image.regionTable.entries.find((e) => e.guid.startsWith("11111111"))!;
    const regionBefore = fixture.bytes.slice(extraRegion.fileOffset, extraRegion.fileOffset + extraRegion.length);
    const metadataBefore = fixture.bytes.slice(fixture.offsets.metadata, fixture.offsets.metadata + MiB);
    for (let i = 0; i < 4; i++) await image.write(i * MiB + 777, new Uint8Array(300_000).fill(i + 1));
    await image.discard(3 * MiB, MiB);
    await image.close();
    const after = source.bytes();
    expect(Buffer.compare(after.subarray(0x30000, 0x50000), fixture.bytes.subarray(0x30000, 0x50000))).toBe(0);
    expect(
      Buffer.compare(after.subarray(fixture.offsets.metadata, fixture.offsets.metadata + MiB), metadataBefore),
    ).toBe(0);
    expect(
      Buffer.compare(after.subarray(extraRegion.fileOffset, extraRegion.fileOffset + extraRegion.length), regionBefore),
    ).toBe(0);
    const reopened = await openImage(new MemorySource(after.slice()));
    expect(reopened.metadata.table.entries.map((e) => e.itemId)).toEqual(
      image.metadata.table.entries.map((e) => e.itemId),
    );
  });
});
