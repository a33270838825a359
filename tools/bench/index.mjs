// Whole commands against their peers, as a user runs them: `vhdx convert`,
// `info` and `check` against `qemu-img`, and reads through @vhdx/image against
// `qemu-img bench`, on images QEMU made. Each side runs once untimed (so every
// run is warm-cache: the images are in the page cache), then `--runs` times,
// the two sides taking turns; we report the medians, their ratio (ours / peer,
// below 1.0 we are faster) and each side's peak RSS over its runs. Node's
// start-up is part of what a user waits for, so it counts.
//
// Not a test: `pnpm test` never runs it (this package has no test script).
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statSync, statfsSync } from "node:fs";
import { createRequire } from "node:module";
import { cpus, loadavg, release, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { printTable, wantsJson } from "@vhdx-tools/bench-kit";
import { GROWTH, defineCases } from "./cases.mjs";
import { GiB, SIZES, createFixtures } from "./fixtures.mjs";
import { formatMet, formatMs, formatRatio, formatRss, formatTarget } from "./format.mjs";
import { hasGnuTime, median, runCommand } from "./run-command.mjs";

const USAGE = `Usage: node index.mjs [--runs N] [--quick] [--only ID[,ID...]] [--json]

  --runs N   timed runs per side and case (default 5; 3 with --quick)
  --quick    smaller images (256 MiB instead of 1 GiB, 4 and 64 GiB sparse) for a smoke test
  --only     run only these cases (ids below)
  --json     print the result as JSON (for readme-table.mjs)`;

const RSS_GOAL_MIB = 128;

const { values } = parseArgs({
  options: {
    runs: { type: "string" },
    quick: { type: "boolean" },
    only: { type: "string", multiple: true },
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  },
});
const fail = (message) => {
  console.error(`bench: ${message}`);
  process.exit(1);
};
const quick = values.quick === true;
const runs = values.runs === undefined ? (quick ? 3 : 5) : Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) fail(`--runs takes a whole number above 0, not ${values.runs}`);
const sizes = quick ? SIZES.quick : SIZES.full;
const bin = join(dirname(createRequire(import.meta.url).resolve("@vhdx/cli/package.json")), "dist", "vhdx.js");

const qemuVersion = firstLine("qemu-img", ["--version"]);
if (values.help) {
  console.log(
    `${USAGE}\n\nCases: ${defineCases({ vhdx: [], sizes, fixture: () => "" })
      .map((c) => c.id)
      .join(", ")}`,
  );
  process.exit(0);
}
if (qemuVersion === null || firstLine("qemu-io", ["--version"]) === null) {
  fail(
    "qemu-img and qemu-io are needed: every case times vhdx against qemu-img on images QEMU makes (Debian/Ubuntu: apt-get install qemu-utils)",
  );
}
if (!hasGnuTime()) fail("GNU time (/usr/bin/time) is needed to measure peak RSS (Debian/Ubuntu: apt-get install time)");
if (!existsSync(bin)) fail(`${bin} is missing: build the CLI first (pnpm build, or cd packages/cli && npx tsup)`);

const dir = mkdtempSync(join(tmpdir(), "vhdx-bench-"));
const cleanUp = () => rmSync(dir, { recursive: true, force: true });
process.on("exit", cleanUp); // process.exit() skips finally blocks
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    cleanUp();
    process.exit(130);
  });
}

try {
  // The 1 GiB cases hold a random raw file, a VHDX of it and two outputs at once.
  const { bavail, bsize } = statfsSync(dir);
  if (bavail * bsize < 4 * sizes.full + GiB)
    fail(`${dir} has ${(bavail * bsize) / GiB} GiB free; the cases need ${(4 * sizes.full + GiB) / GiB}`);
  const fixtures = createFixtures(dir, sizes);
  const all = defineCases({ vhdx: [process.execPath, bin], sizes, fixture: fixtures.get });
  const only = values.only?.flatMap((list) => list.split(","));
  const unknown = only?.filter((id) => !all.some((c) => c.id === id)) ?? [];
  if (unknown.length > 0) fail(`no case ${unknown.join(", ")}; the cases are ${all.map((c) => c.id).join(", ")}`);
  const cases = only ? all.filter((c) => only.includes(c.id)) : all;

  const loadBefore = loadavg();
  const nodeStartMs = median(
    Array.from({ length: 5 }, () => runCommand(process.execPath, ["-e", "0"], { rssFile: join(dir, "rss") }).ms),
  );
  const results = cases.map((c) => {
    process.stderr.write(`${c.id}: ${c.what}\n`);
    return runCase(c);
  });
  const report = {
    benchmark: "whole-commands",
    date: new Date().toISOString(),
    quick,
    runs,
    cache: "warm (one untimed run of each side first; outputs removed after every run)",
    machine: {
      cpu: cpus()[0]?.model ?? "unknown",
      cores: cpus().length,
      node: process.version,
      qemuImg: qemuVersion,
      kernel: release(),
      nodeStartMs,
      loadAverage: { before: loadBefore, after: loadavg() },
    },
    cases: results,
    growth: growth(results),
    rss: { goalMiB: RSS_GOAL_MIB, oursOver: results.filter((r) => r.oursPeakRssMiB >= RSS_GOAL_MIB).map((r) => r.id) },
  };
  if (wantsJson()) console.log(JSON.stringify(report, null, 2));
  else printReport(report);
} finally {
  cleanUp();
}

/** Warm-up, then `runs` turns of each side; medians, ratio, target, peak RSS. */
function runCase(c) {
  const sides = [["ours", c.ours], ...(c.theirs ? [["peer", c.theirs]] : [])];
  const samples = { ours: [], peer: [] };
  const outputs = {};
  const once = (side, build) => {
    const out = c.output ? join(dir, `out-${side}.${c.output}`) : "";
    if (out) rmSync(out, { force: true });
    const [command, args] = build(out);
    const run = runCommand(command, args, { rssFile: join(dir, "rss") });
    const inner = c.inner?.[side === "ours" ? "ours" : "theirs"];
    if (out) {
      // What `du` reads: allocated blocks, which shows whether a raw output kept its holes.
      const { size, blocks } = statSync(out);
      outputs[side] = { size, allocated: blocks * 512 };
      rmSync(out, { force: true });
      if (c.maxAllocated !== undefined && blocks * 512 > c.maxAllocated) {
        throw new Error(
          `${c.id}: ${side} wrote ${blocks * 512} bytes, more than the ${c.maxAllocated} a sparse output may take`,
        );
      }
    }
    return { ms: inner ? inner(run.stdout) : run.ms, wallMs: run.ms, rssMiB: run.rssKiB / 1024 };
  };
  for (const [side, build] of sides) once(side, build);
  for (let i = 0; i < runs; i++) for (const [side, build] of sides) samples[side].push(once(side, build));

  const oursMs = median(samples.ours.map((s) => s.ms));
  const peerMs = c.theirs ? median(samples.peer.map((s) => s.ms)) : null;
  const ratio = peerMs === null ? null : oursMs / peerMs;
  const oursPeakRssMiB = Math.max(...samples.ours.map((s) => s.rssMiB));
  const met =
    c.target === null || ratio === null
      ? null
      : ratio <= c.target.ratio && (c.target.rssMiB === undefined || oursPeakRssMiB < c.target.rssMiB);
  return {
    id: c.id,
    what: c.what,
    peer: c.peer,
    runs,
    oursMs,
    peerMs,
    ratio,
    target: c.target,
    met,
    oursPeakRssMiB,
    peerPeakRssMiB: c.theirs ? Math.max(...samples.peer.map((s) => s.rssMiB)) : null,
    timed: c.inner ? "the work alone, as each side reports it" : "whole command, wall clock",
    samples,
    ...(c.output ? { outputs } : {}),
  };
}

/** Ratios large / small of our medians (and the peer's) for the GROWTH pairs that ran. */
function growth(results) {
  const byId = new Map(results.map((r) => [r.id, r]));
  return GROWTH.filter(([small, large]) => byId.has(small) && byId.has(large)).map(([small, large, what]) => {
    const [s, l] = [byId.get(small), byId.get(large)];
    return { what, small, large, ours: l.oursMs / s.oursMs, peer: s.peerMs === null ? null : l.peerMs / s.peerMs };
  });
}

function printReport(report) {
  const { machine } = report;
  console.log(
    `Whole commands, median of ${report.runs} runs${report.quick ? " (--quick: smaller images)" : ""}, warm page cache.`,
  );
  console.log(
    `${machine.cpu}, ${machine.cores} cores, Node ${machine.node} (start-up ${formatMs(machine.nodeStartMs)}), ${machine.qemuImg}.`,
  );
  console.log("ratio = ours / peer: below 1.0x we are faster.\n");
  printTable(
    ["case", "what", "ours", "peer", "ratio", "target", "met", "ours peak RSS", "peer peak RSS"],
    report.cases.map((r) => [
      r.id,
      r.what,
      formatMs(r.oursMs),
      r.peer === null ? "—" : `${r.peer}: ${formatMs(r.peerMs)}`,
      formatRatio(r.ratio),
      formatTarget(r.target),
      formatMet(r.met),
      formatRss(r.oursPeakRssMiB),
      formatRss(r.peerPeakRssMiB),
    ]),
  );
  if (report.growth.length > 0) {
    console.log("\nCost as the work grows (large / small, our medians; the peer's beside them):\n");
    printTable(
      ["what", "cases", "ours", "peer"],
      report.growth.map((g) => [g.what, `${g.large} / ${g.small}`, formatRatio(g.ours), formatRatio(g.peer)]),
    );
  }
  const written = report.cases.filter((r) => r.outputs);
  if (written.length > 0) {
    console.log("\nOutputs (allocated on disk, as du counts it / apparent size):\n");
    const cell = (o) => (o ? `${(o.allocated / 2 ** 20).toFixed(0)} MiB / ${(o.size / 2 ** 20).toFixed(0)} MiB` : "—");
    printTable(
      ["case", "ours", "peer"],
      written.map((r) => [r.id, cell(r.outputs.ours), cell(r.outputs.peer)]),
    );
  }
  const over = report.rss.oursOver;
  console.log(
    `\nPeak RSS goal: every command under ${report.rss.goalMiB} MiB: ${over.length === 0 ? "met" : `missed by ${over.join(", ")}`}.`,
  );
  const load = (l) => l.map((x) => x.toFixed(2)).join(" ");
  console.log(`Load average: ${load(machine.loadAverage.before)} before, ${load(machine.loadAverage.after)} after.`);
}

/** The first line a command prints, or null when it cannot run. */
function firstLine(command, args) {
  const result = spawnSync(command, args, { encoding: "utf8" });
  return result.status === 0 ? result.stdout.split("\n")[0] : null;
}
