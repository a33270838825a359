// vhdx check, as the built command, on images nothing has damaged: QEMU's
// (fixed and dynamic, several block sizes, block_state_zero on and off,
// before and after qemu-io writes) and ours (fixed, dynamic, differencing,
// after writes, compact and resize) exit 0 with no warning and no leak; their
// room after the metadata region, partial last blocks and preallocated fixed
// space are padding or preallocated. Then space nothing can reach is still a
// leak, to the byte, where qemu-img check reports nothing.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BAT_REGION_GUID, REGION_TABLE_1_OFFSET, decodeRegionTable } from "@vhdx/structs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, oracle, vhdx, vhdxProcess } from "./harness.js";

const MiB = 1 << 20;
const hasQemu = [oracle("qemu-img"), oracle("qemu-io")].every(Boolean);

let dir: string;
beforeAll(() => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), "vhdx-check-clean-"));
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// ------------------------------------------------------------ helpers

interface Report {
  clean: boolean;
  errors: unknown[];
  warnings: unknown[];
  leakedBytes: number;
  leakedRanges: Array<{ offset: number; length: number }>;
  paddingBytes: number;
  preallocatedBytes: number;
  reservedRanges: Array<{ offset: number; length: number; kind: "padding" | "preallocated" }>;
}

function run(command: string, args: string[]): { status: number; stdout: string } {
  const result = spawnSync(command, args, { encoding: "utf8" });
  if (result.error) throw result.error;
  if (result.status !== 0 && command !== "qemu-img") throw new Error(`${command} ${args.join(" ")}: ${result.stderr}`);
  return { status: result.status ?? -1, stdout: result.stdout };
}

function qemuImage(name: string, size: string, options: string, writes: string[] = []): string {
  const path = join(dir, `${name}.vhdx`);
  run("qemu-img", ["create", "-q", "-f", "vhdx", "-o", options, path, size]);
  if (writes.length > 0) run("qemu-io", ["-f", "vhdx", ...writes.flatMap((w) => ["-c", w]), path]);
  return path;
}

/** Makes and changes images in process (fast); only check runs as the built command. */
async function vhdxOk(args: string[], input?: Uint8Array): Promise<void> {
  const outcome = await vhdx(args, dir, input === undefined ? {} : { input });
  if (outcome.status !== 0) throw new Error(`vhdx ${args.join(" ")}: ${outcome.stderr}`);
}

async function ourImage(name: string, args: string[]): Promise<string> {
  const path = join(dir, `${name}.vhdx`);
  await vhdxOk(["create", ...args.slice(0, -1), path, args[args.length - 1]!]);
  return path;
}

const data = (length: number, fill = 0x5a) => new Uint8Array(length).fill(fill);

async function write(path: string, offset: string, bytes: Uint8Array): Promise<void> {
  await vhdxOk(["write", "--offset", offset, path, "-"], bytes);
}

function check(path: string): { status: number; report: Report } {
  const outcome = vhdxProcess(["check", "--json", path]);
  expect(outcome.stderr).toBe("");
  return { status: outcome.status, report: JSON.parse(outcome.stdout) as Report };
}

/** Exit 0, no error, no warning, no leak; returns the report. */
function expectNoLeak(path: string): Report {
  const { status, report } = check(path);
  expect({
    status,
    errors: report.errors,
    warnings: report.warnings,
    leakedBytes: report.leakedBytes,
    leakedRanges: report.leakedRanges,
  }).toEqual({
    status: 0,
    errors: [],
    warnings: [],
    leakedBytes: 0,
    leakedRanges: [],
  });
  return report;
}

function copy(source: string, name: string): string {
  const path = join(dir, `${name}.vhdx`);
  copyFileSync(source, path);
  return path;
}

function grow(path: string, bytes: number): void {
  truncateSync(path, statSync(path).size + bytes);
}

/** Sets a BAT entry to NOT_PRESENT at offset 0 (the BAT has no checksum). */
function clearBatEntry(path: string, index: number): void {
  const file = new Uint8Array(readFileSync(path));
  const bat = decodeRegionTable(file, REGION_TABLE_1_OFFSET).entries.find((e) => e.guid === BAT_REGION_GUID)!;
  file.fill(0, bat.fileOffset + index * 8, bat.fileOffset + index * 8 + 8);
  writeFileSync(path, file);
}

// ------------------------------------------------------------ QEMU's images

const BLOCK_SIZES = ["1M", "2M", "8M", "32M", "256M"];
const qemuWrites = (lastMiB: number) => [
  "write -P 1 0 512k",
  `write -P 2 ${lastMiB}M 4k`,
  `write -P 3 ${Math.floor(lastMiB / 2)}M 1M`,
];

describe.skipIf(!hasQemu)("QEMU 7.2's images check clean", () => {
  describe.each(BLOCK_SIZES.flatMap((size) => [`${size} on`, `${size} off`]))(
    "block size and block_state_zero %s",
    (variant) => {
      const [blockSize, zero] = variant.split(" ") as [string, string];

      it("dynamic, 1 GiB, before and after writes: its 4 MiB after the metadata region is padding", () => {
        const path = qemuImage(
          `dyn-${blockSize}-${zero}`,
          "1G",
          `subformat=dynamic,block_size=${blockSize},block_state_zero=${zero}`,
        );
        expect(expectNoLeak(path)).toMatchObject({ paddingBytes: 4 * MiB, preallocatedBytes: 0 });
        run("qemu-io", ["-f", "vhdx", ...qemuWrites(1023).flatMap((w) => ["-c", w]), path]);
        expectNoLeak(path);
      });

      it("fixed, 70 MiB (a partial last block past 2 MiB blocks), before and after writes", () => {
        const path = qemuImage(
          `fixed-${blockSize}-${zero}`,
          "70M",
          `subformat=fixed,block_size=${blockSize},block_state_zero=${zero}`,
        );
        // block_state_zero=on: every block is ZERO at offset 0, its 70 MiB preallocated after the padding.
        expect(expectNoLeak(path)).toMatchObject({
          paddingBytes: 4 * MiB,
          preallocatedBytes: zero === "on" ? 70 * MiB : 0,
        });
        run("qemu-io", ["-f", "vhdx", ...qemuWrites(69).flatMap((w) => ["-c", w]), path]);
        expectNoLeak(path);
      });
    },
  );

  it("dynamic, 5 GiB with 1 MiB blocks (a sector bitmap entry in the BAT), written past the first chunk", () => {
    const path = qemuImage("dyn-5g", "5G", "subformat=dynamic,block_size=1M", [
      "write -P 1 0 1M",
      "write -P 2 4100M 3M",
      "write -P 3 5119M 1M",
    ]);
    expect(expectNoLeak(path)).toMatchObject({ paddingBytes: 4 * MiB });
  });

  it("dynamic with a partial last block: the rest of its allocation is padding", () => {
    const path = qemuImage("dyn-partial", "5M", "subformat=dynamic,block_size=32M", ["write -P 1 4M 4k"]);
    // Payload starts at 8 MiB; QEMU allocates the 5 MiB block as 32 MiB.
    expect(expectNoLeak(path)).toMatchObject({
      paddingBytes: (4 + 27) * MiB,
      reservedRanges: [
        { offset: 4 * MiB, length: 4 * MiB, kind: "padding" },
        { offset: 13 * MiB, length: 27 * MiB, kind: "padding" },
      ],
    });
  });

  it("prints the padding and preallocated space as a note, not a leak", () => {
    const path = qemuImage("fixed-text", "64M", "subformat=fixed,block_size=8M");
    const outcome = vhdxProcess(["check", path]);
    expect(outcome.status).toBe(0);
    expect(outcome.stdout).not.toMatch(/leak(ed)? bytes|Warning/);
    expect(outcome.stdout).toContain(
      "71303168 bytes (68 MiB) of padding (4 MiB) and space preallocated by the creator (64 MiB); not a leak.",
    );
  });
});

// ------------------------------------------------------------ our images

describe("our own images check clean", () => {
  it.each(["1M", "2M", "32M"])("fixed and dynamic with %s blocks, written, compacted and grown", async (blockSize) => {
    for (const type of ["fixed", "dynamic"]) {
      const path = await ourImage(`ours-${type}-${blockSize}`, ["-t", type, "--block-size", blockSize, "5M"]);
      expectNoLeak(path);
      await write(path, "0", data(MiB));
      await write(path, "4M", data(MiB));
      expectNoLeak(path);
      if (type === "dynamic") {
        await write(path, "0", new Uint8Array(MiB));
        await vhdxOk(["compact", path]);
        expectNoLeak(path);
      }
      await vhdxOk(["resize", path, "+3M"]);
      expectNoLeak(path);
      await write(path, "7M", data(MiB));
      expectNoLeak(path);
    }
  });

  it("dynamic grown until its BAT moves: the old BAT's MiB after the metadata region is padding", async () => {
    const path = await ourImage("ours-bat-moved", ["--block-size", "1M", "1G"]);
    await write(path, "3M", data(MiB));
    await vhdxOk(["resize", path, "200G"]);
    expect(expectNoLeak(path)).toMatchObject({ paddingBytes: MiB });
    await write(path, "150G", data(MiB));
    expectNoLeak(path);
  });

  it("differencing, written (sector bitmaps, a partial last block) and compacted", async () => {
    const parent = await ourImage("ours-parent", ["--block-size", "2M", "9M"]);
    await write(parent, "0", data(3 * MiB));
    const child = join(dir, "ours-child.vhdx");
    await vhdxOk(["create", "--parent", parent, child]);
    expectNoLeak(child);
    await write(child, "8M", data(4096));
    await write(child, "1M", data(MiB));
    expectNoLeak(child);
    await write(child, "0", new Uint8Array(MiB));
    await vhdxOk(["compact", child]);
    expectNoLeak(child);
    const wide = join(dir, "ours-child-8m.vhdx");
    await vhdxOk(["create", "--parent", parent, "--block-size", "8M", wide]);
    await write(wide, "8M", data(4096));
    expect(expectNoLeak(wide)).toMatchObject({ paddingBytes: 7 * MiB });
  });
});

// ------------------------------------------------------------ real leaks

describe.skipIf(!hasQemu)("space nothing can reach is still a leak", () => {
  let written: string;
  beforeAll(() => {
    // Blocks 0, 1 and 2 at 8, 9 and 10 MiB.
    written = qemuImage("leak-base", "64M", "subformat=dynamic,block_size=1M", ["write -P 1 0 3M"]);
  });

  it.each([0, 1, 2])("a dynamic image whose block %i lost its BAT entry leaks exactly that MiB", (block) => {
    const path = copy(written, `leak-entry-${block}`);
    clearBatEntry(path, block);
    const { status, report } = check(path);
    expect(status).toBe(0);
    expect(report).toMatchObject({
      clean: true,
      leakedBytes: MiB,
      leakedRanges: [{ offset: (8 + block) * MiB, length: MiB }],
      paddingBytes: 4 * MiB,
    });
    expect(vhdxProcess(["check", path]).stdout).toMatch(/^1048576 leaked bytes \(1 MiB\) were found on the image\.$/m);
  });

  it("a dynamic image grown 3 MiB past its last block leaks those 3 MiB; qemu-img check reports no leak", () => {
    const path = copy(written, "leak-grown");
    grow(path, 3 * MiB);
    expect(check(path).report).toMatchObject({
      leakedBytes: 3 * MiB,
      leakedRanges: [{ offset: 11 * MiB, length: 3 * MiB }],
    });
    const qemu = run("qemu-img", ["check", "-f", "vhdx", "--output=json", path]);
    expect(qemu.status).toBe(0);
    expect(JSON.parse(qemu.stdout)).not.toHaveProperty("leaks");
  });

  it("past a partial last block's padding, grown space still leaks", () => {
    const path = qemuImage("leak-partial", "5M", "subformat=dynamic,block_size=32M", ["write -P 1 0 4k"]);
    grow(path, 3 * MiB);
    expect(check(path).report).toMatchObject({
      leakedBytes: 3 * MiB,
      leakedRanges: [{ offset: 40 * MiB, length: 3 * MiB }],
      paddingBytes: 31 * MiB,
    });
  });

  it("a fixed image with more unreferenced space than its blocks could use leaks the rest", () => {
    const zeroBlocks = qemuImage("leak-fixed-on", "64M", "subformat=fixed,block_size=1M");
    grow(zeroBlocks, 3 * MiB);
    expect(check(zeroBlocks).report).toMatchObject({
      leakedBytes: 3 * MiB,
      leakedRanges: [{ offset: 72 * MiB, length: 3 * MiB }],
      preallocatedBytes: 64 * MiB,
    });
    // Written blocks go past the end; the space preallocated for them stays preallocated.
    run("qemu-io", ["-f", "vhdx", "-c", "write -P 1 0 2M", zeroBlocks]);
    expect(check(zeroBlocks).report).toMatchObject({
      leakedBytes: 3 * MiB,
      leakedRanges: [{ offset: 72 * MiB, length: 3 * MiB }],
      preallocatedBytes: 64 * MiB,
    });
    const allocated = qemuImage("leak-fixed-off", "64M", "subformat=fixed,block_size=1M,block_state_zero=off");
    grow(allocated, 3 * MiB);
    expect(check(allocated).report).toMatchObject({
      leakedBytes: 3 * MiB,
      leakedRanges: [{ offset: 72 * MiB, length: 3 * MiB }],
      preallocatedBytes: 0,
    });
  });

  it("a fixed image's block without a file offset may keep its space: preallocated, not leaked", () => {
    const path = qemuImage("fixed-cleared", "64M", "subformat=fixed,block_size=1M,block_state_zero=off");
    clearBatEntry(path, 5);
    expect(expectNoLeak(path)).toMatchObject({
      preallocatedBytes: MiB,
      reservedRanges: [{ kind: "padding" }, { offset: 13 * MiB, length: MiB, kind: "preallocated" }],
    });
  });
});

describe("our own images leak what nothing reaches", () => {
  it("no room follows our metadata region: a lost first block is a leak", async () => {
    const path = await ourImage("ours-leak-first", ["--block-size", "1M", "64M"]);
    await write(path, "0", data(3 * MiB));
    clearBatEntry(path, 0);
    expect(check(path).report).toMatchObject({
      leakedBytes: MiB,
      leakedRanges: [{ offset: 4 * MiB, length: MiB }],
      paddingBytes: 0,
    });
  });

  it("a fixed image grown past its blocks", async () => {
    const path = await ourImage("ours-leak-fixed", ["-t", "fixed", "--block-size", "1M", "16M"]);
    grow(path, 3 * MiB);
    expect(check(path).report).toMatchObject({
      leakedBytes: 3 * MiB,
      leakedRanges: [{ offset: 20 * MiB, length: 3 * MiB }],
      preallocatedBytes: 0,
    });
  });
});
