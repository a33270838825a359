// Prints the Markdown table for the root README's "Performance" section from
// a saved run, so the table is always one measurement and never hand-edited:
//
//   node index.mjs --json > result.json
//   node readme-table.mjs result.json
import { readFileSync } from "node:fs";
import { SLOW_MS } from "./run-case.mjs";
import { formatMet, formatMs, formatOurs, formatPeer, formatRatio, formatRss, formatTarget } from "./format.mjs";

const file = process.argv[2];
if (!file) {
  console.error("Usage: node readme-table.mjs RESULT.json   (RESULT.json from: node index.mjs --json)");
  process.exit(1);
}
const report = JSON.parse(readFileSync(file, "utf8"));
const { machine } = report;

const row = (cells) => `| ${cells.join(" | ")} |`;
const peak = (mib) => (mib == null ? "" : `, ${formatRss(mib)} peak`);
const lines = [
  row(["what", "ours", "peer", "ratio", "target", "met"]),
  row(["---", "---", "---", "---", "---", "---"]),
  ...report.cases.map((r) =>
    row([
      r.what,
      `${formatOurs(r)}${peak(r.oursPeakRssMiB)}`,
      r.peer === null ? "—" : `${formatPeer(r, (name) => `\`${name}\``)}${peak(r.peerPeakRssMiB)}`,
      `${formatRatio(r.ratio)}${r.cpuRatio == null ? "" : ` (CPU ${formatRatio(r.cpuRatio)})`}`,
      formatTarget(r.target, r.peer),
      formatMet(r.met, r.goalMet),
    ]),
  ),
];
if (report.growth?.length > 0) {
  lines.push(
    "",
    row(["cost as the work grows (large / small)", "ours", "peer", "target", "met"]),
    row(["---", "---", "---", "---", "---"]),
  );
  for (const g of report.growth) {
    const target = g.target == null ? "—" : `<= ${g.target}x`;
    lines.push(row([g.what, formatRatio(g.ours), formatRatio(g.peer), target, formatMet(g.met ?? null)]));
  }
}
console.log(lines.join("\n"));
const places = machine.places
  ? `; disk: ${machine.places.disk.filesystem}, tmpfs: ${machine.places.tmpfs?.filesystem ?? "none"}`
  : "";
const { targets } = report;
const summary = targets
  ? ` Targets met: ${targets.met.length} of ${targets.met.length + targets.notMet.length}` +
    `${targets.notRun.length > 0 ? ` (not run: ${targets.notRun.join(", ")})` : ""}.`
  : "";
console.log(
  `\nMedian of ${report.runs} runs each (a side whose untimed run took over ${SLOW_MS / 1000} s is timed once), warm page cache, ratio = ours / peer in time (below 1.0x we are faster), and in parentheses in user + system CPU time of the whole commands; ` +
    `${machine.cpu}, ${machine.cores} cores, Node ${machine.node.replace(/^v/, "")} (start-up ${formatMs(machine.nodeStartMs)}), ` +
    `${machine.qemuImg.replace(/ \(.*\)$/, "")}${places}; load average ${machine.loadAverage.before[0].toFixed(1)}; ${report.date.slice(0, 10)}` +
    `${report.quick ? " (--quick: smaller images, not the issue's)" : ""}.${summary} Regenerate: \`node tools/bench/index.mjs --json > r.json && node tools/bench/readme-table.mjs r.json\`.`,
);
