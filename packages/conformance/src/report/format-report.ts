// The report as a terminal table and as Markdown (the page the root README links).
import type { Comparison } from "../results.js";
import type { ConformanceReport, ReportRow } from "./run-conformance.js";

const HEADINGS = ["oracle", "images", "bytes compared", "mismatches", "mutants", "crashes"] as const;

function cells(row: ReportRow): string[] {
  return [
    row.oracle,
    String(row.images),
    formatBytes(row.bytesCompared),
    String(row.mismatches),
    String(row.mutants),
    String(row.crashes),
  ];
}

function formatBytes(bytes: number): string {
  if (bytes === 0) return "-";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** A plain-text table with aligned columns, then failures and skipped comparisons. */
export function formatReportText(report: ConformanceReport): string {
  const rows = [HEADINGS.slice(), ...report.rows.map(cells)];
  const widths = HEADINGS.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const line = (row: string[]) =>
    row
      .map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)))
      .join("  ");
  const out = [line(rows[0]!), widths.map((w) => "-".repeat(w)).join("  "), ...rows.slice(1).map(line), ""];
  out.push(...problems(report).map((problem) => `FAIL ${problem}`));
  for (const skipped of skippedComparisons(report.comparisons)) out.push(`skipped: ${skipped}`);
  out.push(
    `${report.passed ? "PASS" : "FAIL"}: profile ${report.profile}, seed ${report.seed}, ${(report.durationMs / 1000).toFixed(1)} s`,
  );
  return out.join("\n");
}

/** The Markdown page: environment, table, known differences, and any failures. */
export function formatReportMarkdown(report: ConformanceReport, command: string): string {
  const env = report.environment;
  const out = [
    "# Conformance report",
    "",
    `Made by \`${command}\` (profile ${report.profile}, seed ${report.seed}) in ${(report.durationMs / 1000).toFixed(0)} s`,
    `on Node ${env.node}, ${env.cpu}; ${Object.values(env.oracles).join("; ")}.`,
    "Every expected byte comes from an oracle (QEMU, libvhdi) or from the spec-driven generator, never from our own reader;",
    "7-Zip (`7zz x -so`, `7zz t`) reads every image it can against those bytes.",
    "",
    `| ${HEADINGS.join(" | ")} |`,
    `|${HEADINGS.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`,
    ...report.rows.map((row) => `| ${cells(row).join(" | ")} |`),
    "",
    `Result: **${report.passed ? "pass" : "FAIL"}**.`,
    ...problems(report).map((problem) => `- ${problem}`),
    "",
    "## Known differences with the oracles",
    "",
    "| oracle | what | why | what we do instead |",
    "|---|---|---|---|",
    ...report.knownDifferences.map((d) => `| ${d.oracle} | ${d.what} | ${d.why} | ${d.instead} |`),
    "",
  ];
  const skipped = skippedComparisons(report.comparisons);
  if (skipped.length > 0) out.push("## Comparisons not made", "", ...skipped.map((s) => `- ${s}`), "");
  return out.join("\n");
}

function problems(report: ConformanceReport): string[] {
  const found: string[] = [];
  for (const comparison of report.comparisons) {
    for (const mismatch of comparison.mismatches)
      found.push(`${comparison.oracle} on ${comparison.image}: ${mismatch}`);
  }
  for (const failure of report.fuzz.failures)
    found.push(`fuzz ${failure.caseName} (${failure.seedImage}; ${failure.mutation}): ${failure.problem}`);
  for (const failure of report.crash.failures)
    found.push(`power cut ${failure.workload} #${failure.cutPoint} (${failure.mode}): ${failure.problem}`);
  return found;
}

function skippedComparisons(comparisons: readonly Comparison[]): string[] {
  return comparisons.filter((c) => c.skipped !== undefined).map((c) => `${c.oracle} on ${c.image}: ${c.skipped}`);
}
