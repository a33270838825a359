import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { Comparison, CrashSummary, FuzzSummary } from "../src/results.js";
import { formatReportMarkdown, formatReportText } from "../src/report/format-report.js";
import { KNOWN_DIFFERENCES } from "../src/report/known-differences.js";
import { type ConformanceReport, comparisonRows } from "../src/report/run-conformance.js";

const bin = join(dirname(fileURLToPath(import.meta.url)), "..", "bin", "vhdx-conformance.mjs");

const agree = (oracle: string, image: string, bytes: number): Comparison => ({
  oracle,
  image,
  bytesCompared: bytes,
  mismatches: [],
});
const fuzz: FuzzSummary = { seed: 1, mutants: 10, refused: 6, accepted: 4, failures: [], regressionsReplayed: 1 };
const crash: CrashSummary = { workloads: ["writes"], cuts: 30, qemuChecked: 5, failures: [] };

function report(comparisons: Comparison[], overrides: Partial<ConformanceReport> = {}): ConformanceReport {
  const rows = comparisonRows(comparisons);
  return {
    profile: "short",
    seed: 1,
    environment: { node: "v20", cpu: "2 x test", oracles: { "qemu-img": "qemu-img version 7.2" } },
    rows,
    comparisons,
    fuzz,
    crash,
    knownDifferences: KNOWN_DIFFERENCES,
    passed: rows.every((row) => row.mismatches === 0),
    durationMs: 1000,
    ...overrides,
  };
}

describe("the report", () => {
  it("adds comparisons up per oracle, counting each image once and leaving out skipped ones", () => {
    const rows = comparisonRows([
      agree("qemu-img convert", "a", 100),
      agree("qemu-img convert", "a", 50),
      { ...agree("qemu-img convert", "b", 10), mismatches: ["byte 3 differs"] },
      { ...agree("pyvhdi", "c", 0), skipped: "libvhdi reads ZERO blocks from the parent" },
      agree("pyvhdi", "a", 7),
    ]);
    expect(rows).toEqual([
      { oracle: "qemu-img convert", images: 2, bytesCompared: 160, mismatches: 1, mutants: 0, crashes: 0 },
      { oracle: "pyvhdi", images: 1, bytesCompared: 7, mismatches: 0, mutants: 0, crashes: 0 },
    ]);
  });

  it("prints every mismatch and skipped comparison, and says FAIL when anything disagrees", () => {
    const bad = report([
      { ...agree("qemu-img convert", "img", 512), mismatches: ["at 0x200: ours 01, oracle 00"] },
      { ...agree("pyvhdi", "img", 0), skipped: "why" },
    ]);
    const text = formatReportText(bad);
    expect(text).toMatch(/FAIL qemu-img convert on img: at 0x200/);
    expect(text).toMatch(/skipped: pyvhdi on img: why/);
    expect(text.trim().split("\n").at(-1)).toMatch(/^FAIL: profile short, seed 1/);
    expect(
      formatReportText(report([agree("qemu-img convert", "img", 512)]))
        .trim()
        .split("\n")
        .at(-1),
    ).toMatch(/^PASS/);
  });

  it("writes Markdown with the table, the environment and every known difference", () => {
    const markdown = formatReportMarkdown(report([agree("qemu-img convert", "img", 3 << 20)]), "pnpm conformance");
    expect(markdown).toMatch(/^\| oracle \| images \| bytes compared \| mismatches \| mutants \| crashes \|$/m);
    expect(markdown).toMatch(/^\| qemu-img convert \| 1 \| 3\.0 MiB \| 0 \| 0 \| 0 \|$/m);
    expect(markdown).toContain("qemu-img version 7.2");
    expect(markdown).toContain("Result: **pass**");
    for (const difference of KNOWN_DIFFERENCES) expect(markdown).toContain(difference.what);
  });
});

describe("the vhdx-conformance command", () => {
  const run = (...args: string[]) =>
    spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", timeout: 120_000 });

  it("exits 2 with the usage on bad usage", () => {
    for (const args of [
      [],
      ["nonsense"],
      ["fuzz", "--count", "many"],
      ["crash", "--profile", "huge"],
      ["report", "--no-such-flag"],
    ]) {
      const result = run(...args);
      expect(result.status, args.join(" ")).toBe(2);
      expect(result.stdout + result.stderr).toMatch(/usage: vhdx-conformance/);
    }
  });

  it('runs a short fuzz, passing through pnpm\'s "--", and reports the seed for a replay', () => {
    const result = run("fuzz", "--", "--count", "4", "--seed", "3", "--workers", "1");
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(
      /^seed 3: \d+ regression cases replayed, 4 mutants, \d+ refused, \d+ accepted, 0 failures$/m,
    );
  });
});
