// `vhdx check` against `qemu-img check` on the same fuzzer mutants, one
// process per file for both, as a user scripting a scan of many images would
// run them. Whether each tool accepts a mutant does not matter here, only how
// long it takes to decide. Ratio = ours / qemu-img; below 1 is faster.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Writable } from "node:stream";
import { runCli } from "@vhdx/cli";
import { Prng, buildSeeds, mapStructures, mutate } from "@vhdx/conformance";
import { printTable, wantsJson } from "@vhdx-tools/bench-kit";

const MUTANTS = 120;
const RUNS = 3;
const bin = join(dirname(createRequire(import.meta.url).resolve("@vhdx/cli/package.json")), "dist", "vhdx.js");
const dir = mkdtempSync(join(tmpdir(), "vhdx-bench-conformance-"));

function writeMutants() {
  return buildSeeds(join(dir, "seeds")).then((all) => {
    const seeds = all.filter((seed) => seed.parents.length === 0);
    const maps = seeds.map((seed) => mapStructures(seed.bytes));
    const files = [];
    for (let i = 0; i < MUTANTS; i++) {
      const rng = Prng.forMutant(1, i);
      const pick = rng.int(seeds.length);
      const file = join(dir, `m${i}.vhdx`);
      writeFileSync(file, mutate(seeds[pick].bytes, maps[pick], rng, `m${i}.vhdx`).bytes);
      files.push(file);
    }
    return files;
  });
}

/** Median over RUNS of the time to run `command args... file` once per file. */
function medianScan(files, command, args) {
  const times = [];
  for (let run = 0; run < RUNS; run++) {
    const start = process.hrtime.bigint();
    for (const file of files) {
      const result = spawnSync(command, [...args, file], { stdio: "ignore", timeout: 60_000 });
      if (result.error) throw result.error;
    }
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return times.sort((a, b) => a - b)[RUNS >> 1];
}

/** The same scan with `vhdx check` run in this process (runCli): the checking without Node's start-up. */
async function medianInProcess(files) {
  const sink = () => new Writable({ write: (_chunk, _encoding, done) => done() });
  const times = [];
  for (let run = 0; run < RUNS; run++) {
    const start = process.hrtime.bigint();
    for (const file of files) {
      await runCli(["check", "--json", file], {
        stdout: sink(),
        stderr: sink(),
        stdin: process.stdin,
        interactive: false,
        cwd: dir,
      });
    }
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return times.sort((a, b) => a - b)[RUNS >> 1];
}

try {
  const files = await writeMutants();
  const qemu = medianScan(files, "qemu-img", ["check", "-f", "vhdx"]);
  const results = [
    { how: "vhdx check, a process per file", ms: medianScan(files, process.execPath, [bin, "check", "--json"]) },
    { how: "vhdx check in-process (runCli)", ms: await medianInProcess(files) },
  ].map((r) => ({ ...r, qemuImgMs: qemu, ratio: r.ms / qemu }));
  if (wantsJson()) {
    console.log(
      JSON.stringify(
        { benchmark: "conformance-check-mutants", node: process.version, runs: RUNS, mutants: files.length, results },
        null,
        2,
      ),
    );
  } else {
    console.log(
      `vhdx check vs qemu-img check (a process per file) on ${files.length} fuzzer mutants, median of ${RUNS} runs (ratio = ours / qemu-img)`,
    );
    printTable(
      ["how", "vhdx check", "qemu-img check", "ratio"],
      results.map((r) => [r.how, `${r.ms.toFixed(0)} ms`, `${qemu.toFixed(0)} ms`, `${r.ratio.toFixed(2)}x`]),
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
