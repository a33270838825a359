// vhdx check: clean images from QEMU, then the same images with bytes patched
// to break one rule at a time (headers, region tables, BAT entries, leaked
// space, a dirty log, a differencing chain), checked for the rule and offset
// reported, the exit status, what --repair fixes, and the same clean / not
// clean verdict as `qemu-img check` wherever QEMU can read the file.
import { copyFileSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createVhdx } from "@vhdx/image/node";
import {
  BAT_REGION_GUID,
  HEADER_1_OFFSET,
  HEADER_2_OFFSET,
  REGION_TABLE_1_OFFSET,
  REGION_TABLE_2_OFFSET,
  REGION_TABLE_SIZE,
  decodeHeader,
  decodeRegionTable,
  encodeRegionTable,
  verifyHeaderChecksum,
} from "@vhdx/structs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bin, ensureBuilt, oracle, vhdx, vhdxProcess } from "./harness.js";

const MiB = 1 << 20;
const hasQemu = [oracle("qemu-img"), oracle("qemu-io")].every(Boolean);

let dir: string;
let base: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "vhdx-check-"));
  if (!hasQemu) return;
  // Blocks 1, 5, 9 and 10 hold data; QEMU marks the rest ZERO.
  base = qemuImage("base", "64M", "subformat=dynamic,block_size=1M", [
    "write -P 0x11 1M 1M",
    "write -P 0x22 5M 64k",
    "write -P 0x33 9M 2M",
  ]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// ------------------------------------------------------------ helpers

function qemuImage(name: string, size: string, options: string, writes: string[] = []): string {
  const path = join(dir, `${name}.vhdx`);
  spawn("qemu-img", ["create", "-q", "-f", "vhdx", "-o", options, path, size]);
  if (writes.length > 0) spawn("qemu-io", ["-f", "vhdx", ...writes.flatMap((w) => ["-c", w]), path]);
  return path;
}

function spawn(command: string, args: string[]): { status: number; stdout: string; stderr: string } {
  const result = spawnSync(command, args, { encoding: "utf8" });
  if (result.error) throw result.error;
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** `qemu-img check` exit status: 0 clean, 1 could not check (e.g. refused to open), 2 corruptions, 3 leaks. */
function qemuCheck(path: string): number {
  return spawn("qemu-img", ["check", "-f", "vhdx", path]).status;
}

/** The error count `qemu-img check` prints (0 for "No errors were found"). */
function qemuErrorCount(path: string): number {
  const { stdout } = spawn("qemu-img", ["check", "-f", "vhdx", path]);
  if (/No errors were found on the image/.test(stdout)) return 0;
  const match = /^(\d+) errors were found on the image/m.exec(stdout);
  if (match === null) throw new Error(`qemu-img check printed no count:\n${stdout}`);
  return Number(match[1]);
}

function copy(source: string, name: string): string {
  const path = join(dir, `${name}.vhdx`);
  copyFileSync(source, path);
  return path;
}

function patch(path: string, offset: number, bytes: Uint8Array): void {
  const file = new Uint8Array(readFileSync(path));
  file.set(bytes, offset);
  writeFileSync(path, file);
}

function batOffset(path: string): number {
  const table = decodeRegionTable(new Uint8Array(readFileSync(path)), REGION_TABLE_1_OFFSET);
  return table.entries.find((e) => e.guid === BAT_REGION_GUID)!.fileOffset;
}

function batEntry(path: string, index: number): { state: number; mb: number } {
  const view = new DataView(new Uint8Array(readFileSync(path)).buffer);
  const low = view.getUint32(batOffset(path) + index * 8, true);
  const high = view.getUint32(batOffset(path) + index * 8 + 4, true);
  return { state: low & 7, mb: (low >>> 20) + high * 4096 };
}

function setBatEntry(path: string, index: number, state: number, mb: number, reserved = 0): void {
  const bytes = new Uint8Array(8);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, (state | (reserved << 3) | ((mb % 4096) << 20)) >>> 0, true);
  view.setUint32(4, Math.floor(mb / 4096), true);
  patch(path, batOffset(path) + index * 8, bytes);
}

interface Problem {
  rule: string;
  code: string;
  structure: string;
  offset: number | null;
  message: string;
  repairable: boolean;
}

async function checkJson(path: string, ...flags: string[]) {
  const outcome = await vhdx(["check", "--json", ...flags, path]);
  expect(outcome.stderr).toBe("");
  const report = JSON.parse(outcome.stdout) as {
    clean: boolean;
    needsReplay: boolean;
    errors: Problem[];
    warnings: Problem[];
    errorCount: number;
    warningCount: number;
    omittedErrors: number;
    leakedBytes: number;
    leakedRanges: Array<{ offset: number; length: number }>;
    allocatedBlocks: number;
    totalBlocks: number;
    parent: string | null;
    repaired: Array<{ rule: string; message: string }>;
  };
  return { status: outcome.status, report };
}

const rules = (problems: Problem[]) => problems.map((p) => p.rule);

// ------------------------------------------------------------ tests

describe.skipIf(!hasQemu)("clean images", () => {
  it.each([
    ["dynamic with data and ZERO blocks", () => base, 4],
    ["fixed (QEMU marks its blocks ZERO)", () => qemuImage("fixed", "32M", "subformat=fixed"), 0],
    [
      "fixed with every block allocated",
      () => qemuImage("fixed-full", "24M", "subformat=fixed,block_state_zero=off,block_size=8M"),
      3,
    ],
    [
      "dynamic, 1 GiB, 16 MiB blocks, written by qemu-io",
      () =>
        qemuImage("big-blocks", "1G", "subformat=dynamic,block_size=16M", [
          "write -P 0x44 100M 5M",
          "write -z 300M 64M",
        ]),
      -1,
    ],
  ])("%s: exit 0, clean, the same verdict as qemu-img check", async (_name, make, allocated) => {
    const path = make();
    const { status, report } = await checkJson(path);
    expect(report.errors).toEqual([]);
    expect(report.warnings).toEqual([]);
    expect(report.clean).toBe(true);
    expect(status).toBe(0);
    if (allocated >= 0) expect(report.allocatedBlocks).toBe(allocated);
    expect(qemuCheck(path)).toBe(0);
    expect(qemuErrorCount(path)).toBe(report.errorCount);
    const human = await vhdx(["check", path]);
    expect(human.status).toBe(0);
    expect(human.stdout).toMatch(/^No errors were found on the image\.$/m);
  });
});

describe.skipIf(!hasQemu)("headers", () => {
  it.each([
    [1, HEADER_1_OFFSET],
    [2, HEADER_2_OFFSET],
  ])(
    "one damaged header (slot %i) is a warning, still clean like QEMU says; --repair rewrites it",
    async (slot, offset) => {
      const path = copy(base, `header-${slot}`);
      const before = decodeHeader(new Uint8Array(readFileSync(path)), slot === 1 ? HEADER_2_OFFSET : HEADER_1_OFFSET);
      patch(path, offset + 100, new Uint8Array([0xde, 0xad]));
      const { status, report } = await checkJson(path);
      expect(status).toBe(0);
      expect(report.clean).toBe(true);
      expect(report.warnings).toMatchObject([
        { rule: "HEADER_DAMAGED", structure: "header", offset, repairable: true },
      ]);
      expect(qemuCheck(path)).toBe(0);

      const repaired = await checkJson(path, "--repair");
      expect(repaired.status).toBe(0);
      expect(repaired.report.repaired.map((r) => r.rule)).toEqual(["HEADER_DAMAGED"]);
      expect(repaired.report.warnings).toEqual([]);
      const bytes = new Uint8Array(readFileSync(path));
      for (const at of [HEADER_1_OFFSET, HEADER_2_OFFSET]) {
        expect(verifyHeaderChecksum(bytes, at)).toBe(true);
        expect(decodeHeader(bytes, at).dataWriteGuid).toBe(before.dataWriteGuid); // the virtual disk did not change
      }
      expect(qemuCheck(path)).toBe(0);
      expect((await checkJson(path)).report.warnings).toEqual([]);
    },
  );

  it("both headers damaged: exit 1 with NO_VALID_HEADER (QEMU cannot open it either)", async () => {
    const path = copy(base, "no-header");
    patch(path, HEADER_1_OFFSET, new Uint8Array(4));
    patch(path, HEADER_2_OFFSET + 8, new Uint8Array([1, 2, 3]));
    const { status, report } = await checkJson(path);
    expect(status).toBe(1);
    expect(report.clean).toBe(false);
    expect(report.errors).toMatchObject([
      { rule: "NO_VALID_HEADER", code: "NO_VALID_HEADER", offset: HEADER_1_OFFSET, repairable: false },
    ]);
    expect(qemuCheck(path)).not.toBe(0);
  });
});

describe.skipIf(!hasQemu)("region tables", () => {
  it("a damaged copy 1 is an error --repair fixes from copy 2; QEMU, which reads only copy 1, agrees before and after", async () => {
    const path = copy(base, "region-1");
    patch(path, REGION_TABLE_1_OFFSET + 40, new Uint8Array([0xff]));
    const { status, report } = await checkJson(path);
    expect(status).toBe(1);
    expect(report.errors).toMatchObject([
      {
        rule: "REGION_TABLE_DAMAGED",
        code: "CHECKSUM_MISMATCH",
        structure: "region table",
        offset: REGION_TABLE_1_OFFSET,
        repairable: true,
      },
    ]);
    expect(qemuCheck(path)).not.toBe(0);

    const repaired = await checkJson(path, "--repair");
    expect(repaired.status).toBe(0);
    expect(repaired.report.repaired.map((r) => r.rule)).toEqual(["REGION_TABLE_DAMAGED"]);
    const bytes = new Uint8Array(readFileSync(path));
    expect(
      Buffer.compare(
        bytes.subarray(REGION_TABLE_1_OFFSET, REGION_TABLE_1_OFFSET + REGION_TABLE_SIZE),
        bytes.subarray(REGION_TABLE_2_OFFSET, REGION_TABLE_2_OFFSET + REGION_TABLE_SIZE),
      ),
    ).toBe(0);
    expect(qemuCheck(path)).toBe(0);
    expect((await checkJson(path)).status).toBe(0);
  });

  it("a damaged copy 2 is a warning (readers use copy 1), clean like QEMU says", async () => {
    const path = copy(base, "region-2");
    patch(path, REGION_TABLE_2_OFFSET, new Uint8Array(4));
    const { status, report } = await checkJson(path);
    expect(status).toBe(0);
    expect(report.warnings).toMatchObject([
      { rule: "REGION_TABLE_DAMAGED", code: "BAD_SIGNATURE", offset: REGION_TABLE_2_OFFSET, repairable: true },
    ]);
    expect(qemuCheck(path)).toBe(0);
  });

  it("two intact copies that differ are an error; --repair copies 1 over 2", async () => {
    const path = copy(base, "region-differ");
    const bytes = new Uint8Array(readFileSync(path));
    const table = decodeRegionTable(bytes, REGION_TABLE_2_OFFSET);
    // An optional region of its own in the gap QEMU leaves at 4 MiB: valid, but only in copy 2.
    const extra = { guid: "0f1e2d3c-4b5a-4697-8877-665544332211", fileOffset: 4 * MiB, length: MiB, required: false };
    patch(path, REGION_TABLE_2_OFFSET, encodeRegionTable({ entries: [...table.entries, extra] }));
    const { status, report } = await checkJson(path);
    expect(status).toBe(1);
    expect(report.errors).toMatchObject([
      { rule: "REGION_TABLES_DIFFER", offset: REGION_TABLE_2_OFFSET, repairable: true },
    ]);
    const repaired = await checkJson(path, "--repair");
    expect(repaired.status).toBe(0);
    expect(repaired.report.repaired.map((r) => r.rule)).toEqual(["REGION_TABLES_DIFFER"]);
    expect(decodeRegionTable(new Uint8Array(readFileSync(path)), REGION_TABLE_2_OFFSET).entries).toHaveLength(
      table.entries.length,
    );
  });
});

describe.skipIf(!hasQemu)("BAT entries", () => {
  it("a block past the end of the file: exit 1 naming BLOCK_PAST_EOF and the entry's offset; QEMU also finds an error", async () => {
    const path = copy(base, "past-eof");
    setBatEntry(path, 1, 6, 100);
    const { status, report } = await checkJson(path);
    expect(status).toBe(1);
    expect(report.errors).toMatchObject([
      { rule: "BLOCK_PAST_EOF", code: "CORRUPT_BAT", structure: "BAT", offset: batOffset(path) + 8, repairable: false },
    ]);
    expect(report.errors[0]!.message).toMatch(/payload block 1 .*0x6400000.*past the end of the file/);
    expect(qemuCheck(path)).toBe(2);
    expect(report.errorCount).toBe(qemuErrorCount(path));
    const human = await vhdx(["check", path]);
    expect(human.stdout).toMatch(/^1 errors were found on the image\.$/m);
    expect(human.stdout).toMatch(/^Data may be corrupted/m);
    // Not repaired: that would drop or invent data.
    expect((await checkJson(path, "--repair")).status).toBe(1);
    expect(batEntry(path, 1)).toEqual({ state: 6, mb: 100 });
  });

  it("two blocks at the same place: BLOCK_OVERLAP on the second, naming the first", async () => {
    const path = copy(base, "overlap");
    setBatEntry(path, 9, 6, batEntry(path, 5).mb);
    const { status, report } = await checkJson(path);
    expect(status).toBe(1);
    expect(report.errors).toMatchObject([{ rule: "BLOCK_OVERLAP", offset: batOffset(path) + 9 * 8 }]);
    expect(report.errors[0]!.message).toMatch(/payload block 9 .* overlaps payload block 5 \(entry 5/);
  });

  it("a block over the BAT itself: BLOCK_OVERLAPS_STRUCTURE; QEMU also finds an error", async () => {
    const path = copy(base, "over-bat");
    setBatEntry(path, 5, 6, batOffset(path) / MiB);
    const { status, report } = await checkJson(path);
    expect(status).toBe(1);
    expect(report.errors).toMatchObject([{ rule: "BLOCK_OVERLAPS_STRUCTURE", offset: batOffset(path) + 5 * 8 }]);
    expect(report.errors[0]!.message).toMatch(/overlaps the BAT region/);
    expect(qemuCheck(path)).toBe(2);
    expect(report.errorCount).toBe(qemuErrorCount(path));
  });

  it.each([
    ["the reserved state 4", "BAD_BLOCK_STATE", 4],
    ["PARTIALLY_PRESENT in a dynamic disk", "PARTIAL_NOT_DIFFERENCING", 7],
  ])("%s: exit 1 with %s", async (_name, rule, state) => {
    const path = copy(base, `state-${state}`);
    setBatEntry(path, 3, state, state === 7 ? batEntry(path, 1).mb : 0);
    const { status, report } = await checkJson(path);
    expect(status).toBe(1);
    expect(report.errors).toMatchObject([{ rule, code: "CORRUPT_BAT", offset: batOffset(path) + 3 * 8 }]);
  });

  it("reserved bits set: a warning, still clean", async () => {
    const path = copy(base, "reserved-bits");
    const { state, mb } = batEntry(path, 1);
    setBatEntry(path, 1, state, mb, 0x10);
    const { status, report } = await checkJson(path);
    expect(status).toBe(0);
    expect(rules(report.warnings)).toEqual(["BAT_RESERVED_BITS"]);
  });

  it("a block left in the file with no entry pointing at it is leaked space: reported, not an error", async () => {
    const path = copy(base, "leak");
    const before = (await checkJson(path)).report;
    const block = batEntry(path, 5).mb * MiB;
    setBatEntry(path, 5, 0, 0);
    const { status, report } = await checkJson(path);
    expect(status).toBe(0);
    expect(report.clean).toBe(true);
    expect(report.leakedBytes).toBe(before.leakedBytes + MiB);
    expect(report.leakedRanges.some((r) => r.offset <= block && block + MiB <= r.offset + r.length)).toBe(true);
    expect(before.leakedRanges.some((r) => r.offset <= block && block < r.offset + r.length)).toBe(false);
    expect((await vhdx(["check", path])).stdout).toMatch(
      /leaked bytes .* were found on the image\.\nThis means waste of disk space, but no harm to data\./,
    );
  });

  it("counts every broken entry while listing at most 100 per rule", async () => {
    const path = qemuImage("many", "256M", "subformat=dynamic,block_size=1M");
    const bytes = new Uint8Array(readFileSync(path));
    const at = batOffset(path);
    for (let i = 0; i < 150; i++) bytes[at + i * 8] = 4;
    writeFileSync(path, bytes);
    const { status, report } = await checkJson(path);
    expect(status).toBe(1);
    expect(report.errorCount).toBe(150);
    expect(report.errors).toHaveLength(100);
    expect(report.omittedErrors).toBe(50);
  });
});

describe.skipIf(!hasQemu)("a log left to replay", () => {
  /** QEMU's own dirty log: blkdebug fails the write that applies the log entry to the BAT. */
  function dirtyImage(name: string): string {
    const path = qemuImage(name, "64M", "subformat=dynamic,block_size=1M", ["write -P 0x11 5M 64k"]);
    const config = join(dir, `${name}.blkdebug`);
    writeFileSync(
      config,
      `[inject-error]\nevent = "pwritev"\niotype = "write"\nerrno = "5"\nsector = "4096"\nonce = "on"\n`,
    );
    spawn("qemu-io", ["-c", "write -P 0x33 0 64k", `blkdebug:${config}:${path}`]);
    expect(decodeHeader(new Uint8Array(readFileSync(path)), HEADER_2_OFFSET).logGuid).not.toBe(
      "00000000-0000-0000-0000-000000000000",
    );
    return path;
  }

  it("is reported as needing replay (QEMU refuses it read-only); --repair replays it and both checks are clean", async () => {
    const path = dirtyImage("dirty");
    const { status, report } = await checkJson(path);
    expect(status).toBe(1);
    expect(report.needsReplay).toBe(true);
    expect(report.errors).toMatchObject([{ rule: "LOG_REPLAY_NEEDED", structure: "header", repairable: true }]);
    expect((await vhdx(["check", path])).stdout).toMatch(/needs a log replay/);
    expect(qemuCheck(path)).not.toBe(0);

    // What QEMU itself makes of the log, for the contents.
    const byQemu = copy(path, "dirty-qemu");
    spawn("qemu-img", ["check", "-q", "-r", "all", byQemu]);

    const repaired = await checkJson(path, "--repair");
    expect(repaired.status).toBe(0);
    expect(repaired.report.repaired.map((r) => r.rule)).toEqual(["LOG_REPLAY_NEEDED"]);
    expect(repaired.report.needsReplay).toBe(false);
    expect(spawn("qemu-img", ["check", path]).stdout).toMatch(/No errors were found on the image/);
    expect((await checkJson(path)).report.clean).toBe(true);
    expect(spawn("qemu-img", ["compare", path, byQemu]).status).toBe(0);
  });
});

describe.skipIf(!hasQemu)("differencing disks", () => {
  async function child(name: string, parent: string): Promise<string> {
    const path = join(dir, `${name}.vhdx`);
    const image = await createVhdx(path, { type: "differencing", parent, blockSize: MiB });
    await image.write(2 * MiB, new Uint8Array(MiB).fill(0x77));
    await image.write(4 * MiB + 4096, new Uint8Array(8192).fill(0x66)); // a PARTIALLY_PRESENT block
    await image.close();
    return path;
  }

  it("a sound child is clean and names its parent", async () => {
    const parent = copy(base, "parent-ok");
    const path = await child("child-ok", parent);
    const { status, report } = await checkJson(path);
    expect(report.errors).toEqual([]);
    expect(status).toBe(0);
    expect(report.parent).toBe(parent);
    expect(report.allocatedBlocks).toBe(2);
  });

  it("a missing parent breaks the parent linkage", async () => {
    const parent = copy(base, "parent-gone");
    const path = await child("child-orphan", parent);
    renameSync(parent, join(dir, "elsewhere.vhdx"));
    const { status, report } = await checkJson(path);
    expect(status).toBe(1);
    expect(report.errors).toMatchObject([
      { rule: "PARENT_LINKAGE", code: "PARENT_NOT_FOUND", structure: "parent locator" },
    ]);
  });

  it("a parent with another DataWriteGuid breaks the linkage", async () => {
    const parent = copy(base, "parent-swapped");
    const path = await child("child-swapped", parent);
    copyFileSync(qemuImage("impostor", "64M", "subformat=dynamic,block_size=1M"), parent);
    const { status, report } = await checkJson(path);
    expect(status).toBe(1);
    expect(rules(report.errors)).toEqual(["PARENT_LINKAGE"]);
  });

  it("a PARTIALLY_PRESENT block whose sector bitmap block is not present: BITMAP_MISSING", async () => {
    const parent = copy(base, "parent-bitmap");
    const path = await child("child-bitmap", parent);
    const chunkRatio = (2 ** 23 * 512) / MiB; // the sector bitmap entry of chunk 0 follows its 4096 payload entries
    expect(batEntry(path, chunkRatio).state).toBe(6);
    setBatEntry(path, chunkRatio, 0, 0);
    const { status, report } = await checkJson(path);
    expect(status).toBe(1);
    expect(report.errors).toMatchObject([
      { rule: "BITMAP_MISSING", code: "CORRUPT_BITMAP", offset: batOffset(path) + chunkRatio * 8 },
    ]);
  });
});

describe("what cannot be checked: exit 2", () => {
  it("a file that is not VHDX, a missing file, bad arguments", async () => {
    const raw = join(dir, "plain.raw");
    writeFileSync(raw, new Uint8Array(MiB));
    for (const args of [
      ["check", raw],
      ["check", join(dir, "missing.vhdx")],
      ["check"],
      ["check", "--frobnicate", raw],
      ["check", raw, raw],
    ]) {
      const outcome = await vhdx(args);
      expect(outcome.status, args.join(" ")).toBe(2);
      expect(outcome.stdout).toBe("");
      expect(outcome.stderr).toMatch(/^vhdx: [A-Z_]+: /);
    }
    expect((await vhdx(["check", raw])).stderr).toMatch(/NOT_VHDX: .*is not a VHDX image/);
  });
});

describe.skipIf(!hasQemu)("the built command", () => {
  beforeAll(() => ensureBuilt(), 120_000);

  it("exits 0, 1 and 2 as a subprocess", () => {
    const broken = copy(base, "process-broken");
    setBatEntry(broken, 1, 6, 100);
    expect(vhdxProcess(["check", base]).status).toBe(0);
    const found = vhdxProcess(["check", broken]);
    expect(found.status).toBe(1);
    expect(found.stdout).toMatch(/ERROR \[BLOCK_PAST_EOF\] BAT @0x200008: payload block 1/);
    const raw = join(dir, "process.raw");
    writeFileSync(raw, new Uint8Array(4096));
    const refused = vhdxProcess(["check", raw]);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/^vhdx: NOT_VHDX: /);
  });

  it("checks a 64 TiB image with 1 MiB blocks (a 512 MiB BAT) in bounded memory", () => {
    const path = qemuImage("huge", "64T", "subformat=dynamic,block_size=1M");
    const probe = join(dir, "max-rss.mjs");
    writeFileSync(
      probe,
      `process.on("exit", () => process.stderr.write("maxRSS " + process.resourceUsage().maxRSS + "\\n"));\n`,
    );
    const result = spawnSync(process.execPath, ["--import", probe, bin, "check", "--json", path], {
      encoding: "utf8",
      maxBuffer: 1 << 26,
    });
    rmSync(path);
    expect(result.status, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.totalBlocks).toBe(64 * 1024 * 1024);
    expect(report.batBytes).toBeGreaterThan(512 * 1024 * 1024);
    const maxRssKiB = Number(/maxRSS (\d+)/.exec(result.stderr)![1]);
    expect(maxRssKiB).toBeLessThan(256 * 1024); // the BAT alone would be 512 MiB
  }, 60_000);
});
