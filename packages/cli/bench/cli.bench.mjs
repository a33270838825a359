// Whole commands, as a user runs them: `vhdx info` against `qemu-img info`
// on the same images, median wall time of several runs each. Node's own
// start-up (about 60 ms here) is part of what a user waits for, so it counts.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { printTable, wantsJson } from "@vhdx-tools/bench-kit";

const bin = join(dirname(createRequire(import.meta.url).resolve("@vhdx/cli/package.json")), "dist", "vhdx.cjs");
const dir = mkdtempSync(join(tmpdir(), "vhdx-bench-cli-"));
const RUNS = 9;

function median(command, args) {
  const times = [];
  for (let i = 0; i < RUNS; i++) {
    const start = process.hrtime.bigint();
    const result = spawnSync(command, args, { stdio: ["ignore", "ignore", "pipe"] });
    if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed: ${result.stderr}`);
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return times.sort((a, b) => a - b)[RUNS >> 1];
}

try {
  const images = [
    ["1 GiB dynamic", "1G", "32M"],
    ["64 TiB dynamic, 1 MiB blocks (512 MiB BAT)", "64T", "1M"],
  ];
  const results = [];
  for (const [name, size, blockSize] of images) {
    const file = join(dir, `${size}.vhdx`);
    execFileSync("qemu-img", [
      "create",
      "-q",
      "-f",
      "vhdx",
      "-o",
      `subformat=dynamic,block_size=${blockSize}`,
      file,
      size,
    ]);
    const ours = median(process.execPath, [bin, "info", "--json", file]);
    const qemu = median("qemu-img", ["info", "--output=json", file]);
    results.push({ image: name, vhdxMs: ours, qemuImgMs: qemu, ratio: ours / qemu });
  }
  if (wantsJson()) {
    console.log(JSON.stringify({ benchmark: "cli-info", node: process.version, runs: RUNS, results }, null, 2));
  } else {
    console.log(
      `vhdx info --json vs qemu-img info --output=json, median of ${RUNS} runs (ratio = ours / qemu-img, below 1 is faster)`,
    );
    printTable(
      ["image", "vhdx info", "qemu-img info", "ratio"],
      results.map((r) => [
        r.image,
        `${r.vhdxMs.toFixed(0)} ms`,
        `${r.qemuImgMs.toFixed(0)} ms`,
        `${r.ratio.toFixed(2)}x`,
      ]),
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
