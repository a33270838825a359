// Whole commands against their peers, as a user runs them: `vhdx convert`,
// `info`, `check`, `write` and `map` against `qemu-img` and `qemu-io`, reads
// through @vhdx/image against `qemu-img bench`, and CRC-32C against hash-wasm,
// on images QEMU made; the convert cases on disk and on tmpfs. Each side runs
// once untimed (so every run is warm-cache), then `--runs` times, the two
// sides taking turns; we report the medians, their ratio (ours / peer, below
// 1.0 we are faster), each side's peak RSS, each case's target from the
// performance issue and whether it is met. Node's start-up is part of what a
// user waits for, so it counts.
//
// Not a test: `pnpm test` never runs it (this package has no test script).
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statfsSync } from "node:fs";
import { createRequire } from "node:module";
import { cpus, freemem, loadavg, release, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { printTable, wantsJson } from "@vhdx-tools/bench-kit";
import { GROWTH, defineCases } from "./cases.mjs";
import { GiB, SIZES, createFixtures } from "./fixtures.mjs";
import {
  formatMet,
  formatMs,
  formatOurs,
  formatPeer,
  formatRatio,
  formatRss,
  formatSpread,
  formatTarget,
} from "./format.mjs";
import { describe, runCase } from "./run-case.mjs";
import { hasGnuTime, median, runCommand } from "./run-command.mjs";
import { judgeGrowth } from "./targets.mjs";

const USAGE = `Usage: node index.mjs [--runs N] [--quick] [--only ID[,ID...]] [--json]

  --runs N   timed runs per side and case (default 5; 3 with --quick)
  --quick    smaller images (256 MiB instead of 1 GiB, 4 GiB sparse raw, no 8 GiB or 20 GiB cases): a smoke test
  --only     run only these cases (ids below)
  --json     print the result as JSON (for readme-table.mjs)

The disk cases work in $TMPDIR (or /tmp), the tmpfs cases in /dev/shm.`;

const RSS_GOAL_MIB = 128;
const TMPFS = "/dev/shm";
const TMPFS_MAGIC = 0x01021994;
/** What a tmpfs case leaves free, in memory and on the tmpfs, beyond its own files. */
const TMPFS_HEADROOM = 2 * GiB;

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
const bin = join(dirname(createRequire(import.meta.url).resolve("@vhdx/cli/package.json")), "dist", "vhdx.cjs");

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

const dirs = { disk: mkdtempSync(join(tmpdir(), "vhdx-bench-")), tmpfs: makeTmpfsDir() };
const cleanUp = () => {
  for (const dir of Object.values(dirs)) if (dir) rmSync(dir, { recursive: true, force: true });
};
process.on("exit", cleanUp); // process.exit() skips finally blocks
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    cleanUp();
    process.exit(130);
  });
}

try {
  const fixtures = createFixtures(dirs, sizes);
  const all = defineCases({ vhdx: [process.execPath, bin], sizes, fixture: fixtures.get });
  const only = values.only?.flatMap((list) => list.split(","));
  const unknown = only?.filter((id) => !all.some((c) => c.id === id)) ?? [];
  if (unknown.length > 0) fail(`no case ${unknown.join(", ")}; the cases are ${all.map((c) => c.id).join(", ")}`);
  const cases = only ? all.filter((c) => only.includes(c.id)) : all;
  checkDiskSpace(cases);

  const loadBefore = loadavg();
  const rssFile = join(dirs.disk, "rss");
  const nodeStartMs = median(
    Array.from({ length: 5 }, () => runCommand(process.execPath, ["-e", "0"], { rssFile }).ms),
  );
  const lastUse = lastUses(cases);
  const results = cases.map((c, index) => {
    const result = runOrSkip(c, fixtures, rssFile);
    for (const [name, last] of lastUse) if (last === index) fixtures.release(name);
    return result;
  });
  const growthRows = growth(results);
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
      places: { disk: placeOf(dirs.disk), tmpfs: dirs.tmpfs ? placeOf(dirs.tmpfs) : null },
    },
    cases: results,
    growth: growthRows,
    targets: targetSummary(results, growthRows),
    rss: {
      goalMiB: RSS_GOAL_MIB,
      oursOver: results.filter((r) => r.oursPeakRssMiB >= RSS_GOAL_MIB).map((r) => r.id),
    },
  };
  if (wantsJson()) console.log(JSON.stringify(report, null, 2));
  else printReport(report);
} finally {
  cleanUp();
}

/** Runs a case (its fixtures made first), or says why it does not run; a failed case does not stop the others. */
function runOrSkip(c, fixtures, rssFile) {
  const skipped = skipReason(c);
  if (skipped) {
    process.stderr.write(`${c.id}: skipped: ${skipped}\n`);
    return { ...describe(c), skipped, met: null, goalMet: null };
  }
  process.stderr.write(`${c.id}: ${c.what}\n`);
  try {
    for (const name of c.fixtures ?? []) fixtures.get(name);
    return runCase(c, { runs, dir: c.place === "tmpfs" ? dirs.tmpfs : dirs.disk, rssFile });
  } catch (error) {
    process.stderr.write(`${c.id}: failed: ${error.message}\n`);
    return { ...describe(c), error: error.message, met: c.target ? false : null, goalMet: null };
  }
}

function skipReason(c) {
  if (c.skip) return c.skip;
  if (c.place !== "tmpfs") return null;
  if (!dirs.tmpfs) return "no tmpfs";
  const room = Math.min(freeBytes(dirs.tmpfs), availableMemory());
  const need = c.tmpfsBytes + TMPFS_HEADROOM;
  return room < need ? `tmpfs or memory too small (${formatGiB(room)} free, needs ${formatGiB(need)})` : null;
}

/** For each fixture, the index of the last case that uses it (a tmpfs copy uses its disk original). */
function lastUses(cases) {
  const last = new Map();
  cases.forEach((c, index) => {
    for (const name of c.fixtures ?? []) {
      last.set(name, index);
      if (name.endsWith("Tmpfs")) last.set(name.slice(0, -"Tmpfs".length), index);
    }
  });
  return last;
}

/** Fails early when the disk cannot hold what the largest case holds at once. */
function checkDiskSpace(cases) {
  const ids = new Set(cases.filter((c) => !c.skip).map((c) => c.id));
  // The random raw file, a VHDX of it and an output; at 8 GiB, that raw file repeated next to its VHDX.
  const big = [...ids].some((id) => id.startsWith("convert-raw-full-8g")) ? 2 * sizes.big : 0;
  const need = 3 * sizes.full + big + GiB;
  const free = freeBytes(dirs.disk);
  if (free < need) fail(`${dirs.disk} has ${formatGiB(free)} free; these cases need ${formatGiB(need)}`);
}

/** /dev/shm's folder for this run when it is a tmpfs, else null. */
function makeTmpfsDir() {
  if (!existsSync(TMPFS) || statfsSync(TMPFS).type !== TMPFS_MAGIC) return null;
  return mkdtempSync(join(TMPFS, "vhdx-bench-"));
}

function placeOf(dir) {
  const { type } = statfsSync(dir);
  const names = {
    [TMPFS_MAGIC]: "tmpfs",
    61267: "ext2/3/4",
    1481003842: "xfs",
    2435016766: "btrfs",
    2035054128: "overlayfs",
  };
  return { dir, filesystem: names[type] ?? `0x${type.toString(16)}` };
}

function freeBytes(dir) {
  const { bavail, bsize } = statfsSync(dir);
  return bavail * bsize;
}

/** MemAvailable from /proc/meminfo (page cache counts as available), else what the OS calls free. */
function availableMemory() {
  const match = existsSync("/proc/meminfo") && /MemAvailable:\s+(\d+) kB/.exec(readFileSync("/proc/meminfo", "utf8"));
  return match ? Number(match[1]) * 1024 : freemem();
}

function formatGiB(bytes) {
  return `${(bytes / GiB).toFixed(1)} GiB`;
}

/** Ratios large / small of our medians (and the peer's) for the GROWTH pairs that ran, with their targets. */
function growth(results) {
  const ran = new Map(results.filter((r) => r.oursMs != null).map((r) => [r.id, r]));
  return GROWTH.filter((g) => ran.has(g.small) && ran.has(g.large)).map((g) => {
    const [s, l] = [ran.get(g.small), ran.get(g.large)];
    const ours = l.oursMs / s.oursMs;
    return {
      what: g.what,
      small: g.small,
      large: g.large,
      ours,
      peer: s.peerMs == null ? null : l.peerMs / s.peerMs,
      target: g.target ?? null,
      met: judgeGrowth(g.target, ours),
    };
  });
}

/** The ids of the cases (and growth pairs) that meet their target, miss it, or could not be judged here. */
function targetSummary(results, growthRows) {
  const judged = [
    ...results.filter((r) => r.target).map((r) => [r.id, r.met, r.goalMet]),
    ...growthRows.filter((g) => g.target !== null).map((g) => [`${g.large} / ${g.small}`, g.met, null]),
  ];
  const missingPairs = GROWTH.filter((g) => g.target !== undefined).filter(
    (g) => !judged.some(([id]) => id === `${g.large} / ${g.small}`),
  );
  return {
    met: judged.filter(([, met]) => met === true).map(([id]) => id),
    goalsMet: judged.filter(([, , goalMet]) => goalMet === true).map(([id]) => id),
    notMet: judged.filter(([, met]) => met === false).map(([id]) => id),
    notRun: [
      ...judged.filter(([, met]) => met === null).map(([id]) => id),
      ...missingPairs.map((g) => `${g.large} / ${g.small}`),
    ],
  };
}

function printReport(report) {
  const { machine } = report;
  console.log(
    `Whole commands, median of ${report.runs} runs${report.quick ? " (--quick: smaller images)" : ""}, warm page cache.`,
  );
  console.log(
    `${machine.cpu}, ${machine.cores} cores, Node ${machine.node} (start-up ${formatMs(machine.nodeStartMs)}), ${machine.qemuImg}.`,
  );
  const { disk, tmpfs } = machine.places;
  console.log(
    `On disk: ${disk.dir} (${disk.filesystem}); on tmpfs: ${tmpfs ? `${tmpfs.dir} (${tmpfs.filesystem})` : "none"}.`,
  );
  if (disk.filesystem === "tmpfs") console.log(`Note: ${disk.dir} is itself a tmpfs: set TMPDIR to a disk folder.`);
  console.log(
    "ratio = ours / peer (time): below 1.0x we are faster. CPU = the same for user + system CPU time of the whole commands;\n" +
      "spread = slowest / fastest run of each side (far above 1: the machine stalled, the median is less sure).\n",
  );
  printTable(
    ["case", "what", "ours", "peer", "ratio", "CPU", "spread", "target", "met", "ours peak RSS", "peer peak RSS"],
    report.cases.map((r) => [
      r.id,
      r.what,
      formatOurs(r),
      formatPeer(r),
      formatRatio(r.ratio),
      formatRatio(r.cpuRatio),
      formatSpread(r.spread),
      formatTarget(r.target, r.peer),
      formatMet(r.met, r.goalMet),
      formatRss(r.oursPeakRssMiB),
      formatRss(r.peerPeakRssMiB),
    ]),
  );
  if (report.growth.length > 0) {
    console.log("\nCost as the work grows (large / small, our medians; the peer's beside them):\n");
    printTable(
      ["what", "cases", "ours", "peer", "target", "met"],
      report.growth.map((g) => [
        g.what,
        `${g.large} / ${g.small}`,
        formatRatio(g.ours),
        formatRatio(g.peer),
        g.target === null ? "—" : `<= ${g.target}x`,
        formatMet(g.met),
      ]),
    );
  }
  const written = report.cases.filter((r) => r.outputs);
  if (written.length > 0) {
    console.log("\nOutputs (allocated on disk, as du counts it / apparent size):\n");
    const cell = (o) => (o ? `${formatAllocated(o.allocated)} / ${formatAllocated(o.size)}` : "—");
    printTable(
      ["case", "ours", "peer"],
      written.map((r) => [r.id, cell(r.outputs.ours), cell(r.outputs.peer)]),
    );
  }
  for (const r of report.cases.filter((r) => r.error)) console.log(`\n${r.id} failed: ${r.error}`);
  const { targets } = report;
  console.log(
    `\nTargets: ${targets.met.length} met (the goal too: ${targets.goalsMet.join(", ") || "none"}); ` +
      `not met: ${targets.notMet.join(", ") || "none"}; not run: ${targets.notRun.join(", ") || "none"}.`,
  );
  const over = report.rss.oursOver;
  console.log(
    `Peak RSS goal: every command under ${report.rss.goalMiB} MiB: ${over.length === 0 ? "met" : `missed by ${over.join(", ")}`}.`,
  );
  const load = (l) => l.map((x) => x.toFixed(2)).join(" ");
  console.log(`Load average: ${load(machine.loadAverage.before)} before, ${load(machine.loadAverage.after)} after.`);
}

/** 64 MiB, 12 KiB: outputs range from a few KiB (a write) to gigabytes. */
function formatAllocated(bytes) {
  return bytes >= 2 ** 20 ? `${(bytes / 2 ** 20).toFixed(0)} MiB` : `${(bytes / 1024).toFixed(0)} KiB`;
}

/** The first line a command prints, or null when it cannot run. */
function firstLine(command, args) {
  const result = spawnSync(command, args, { encoding: "utf8" });
  return result.status === 0 ? result.stdout.split("\n")[0] : null;
}
