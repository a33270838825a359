// Prints the Markdown table for the root README's "Performance" section from
// a saved run, so the table is always one measurement and never hand-edited:
//
//   node index.mjs --json > result.json
//   node readme-table.mjs result.json
import { readFileSync } from "node:fs";
import { formatMet, formatMs, formatRatio, formatRss, formatTarget } from "./format.mjs";

const file = process.argv[2];
if (!file) {
  console.error("Usage: node readme-table.mjs RESULT.json   (RESULT.json from: node index.mjs --json)");
  process.exit(1);
}
const report = JSON.parse(readFileSync(file, "utf8"));
const { machine } = report;

const row = (cells) => `| ${cells.join(" | ")} |`;
const lines = [
  row(["what", "ours", "peer", "ratio", "target", "met"]),
  row(["---", "---", "---", "---", "---", "---"]),
  ...report.cases.map((r) =>
    row([
      r.what,
      `${formatMs(r.oursMs)}, ${formatRss(r.oursPeakRssMiB)} peak`,
      r.peer === null ? "—" : `\`${r.peer}\` ${formatMs(r.peerMs)}, ${formatRss(r.peerPeakRssMiB)} peak`,
      formatRatio(r.ratio),
      formatTarget(r.target),
      formatMet(r.met),
    ]),
  ),
];
if (report.growth?.length > 0) {
  lines.push("", row(["cost as the work grows (large / small image)", "ours", "qemu-img"]), row(["---", "---", "---"]));
  for (const g of report.growth) lines.push(row([g.what, formatRatio(g.ours), formatRatio(g.peer)]));
}
console.log(lines.join("\n"));
console.log(
  `\nMedian of ${report.runs} runs each, warm page cache, ratio = ours / peer (below 1.0x we are faster); ` +
    `${machine.cpu}, ${machine.cores} cores, Node ${machine.node.replace(/^v/, "")} (start-up ${formatMs(machine.nodeStartMs)}), ` +
    `${machine.qemuImg.replace(/ \(.*\)$/, "")}; load average ${machine.loadAverage.before[0].toFixed(1)}; ${report.date.slice(0, 10)}` +
    `${report.quick ? " (--quick: smaller images, not the issue's)" : ""}. Regenerate: \`node tools/bench/index.mjs --json > r.json && node tools/bench/readme-table.mjs r.json\`.`,
);
