// When a write session starts: only on the first change a reader could see.
// Operations that change nothing leave the file (and so a parent's linkage to
// its children) byte for byte as it was.
import { STATE, buildVhdx } from "@vhdx-tools/fixtures";
import { describe, expect, it } from "vitest";
import { MemorySource, openImage } from "../src/index.js";

const MiB = 1 << 20;

describe("operations that change nothing", () => {
  it("leave a dynamic disk untouched: zeros over zeros, partial discards", async () => {
    const fixture = buildVhdx({ virtualSize: 4 * MiB, blockSize: MiB, type: "dynamic", blocks: { 1: { state: STATE.FULLY_PRESENT }, 2: { state: STATE.ZERO } } });
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
    const parent = buildVhdx({ virtualSize: 4 * MiB, blockSize: MiB, type: "dynamic", blocks: { 0: { state: STATE.FULLY_PRESENT } } });
    const child = buildVhdx({ virtualSize: 4 * MiB, blockSize: MiB, type: "differencing", parent: { dataWriteGuid: parent.dataWriteGuid, paths: { relative_path: "p" } } }, parent);
    const source = new MemorySource(child.bytes.slice());
    const image = await openImage(source, { readOnly: false, parents: [await openImage(new MemorySource(parent.bytes))] });
    await image.discard(0, 4 * MiB);
    await image.close();
    expect(Buffer.compare(source.bytes(), child.bytes)).toBe(0);
  });

  it("while a real change starts the session: new DataWriteGuid and FileWriteGuid", async () => {
    const fixture = buildVhdx({ virtualSize: 4 * MiB, blockSize: MiB, type: "dynamic", blocks: { 1: { state: STATE.FULLY_PRESENT } } });
    const image = await openImage(new MemorySource(fixture.bytes.slice()), { readOnly: false });
    const before = { data: image.dataWriteGuid, file: image.fileWriteGuid };
    await image.writeZeroes(MiB, MiB);
    expect(image.dataWriteGuid).not.toBe(before.data);
    expect(image.fileWriteGuid).not.toBe(before.file);
    expect((await image.read(MiB, MiB)).every((b) => b === 0)).toBe(true);
    await image.close();
  });
});
