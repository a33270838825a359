// Compiles native/file-ops.c into dist/native/<platform>-<arch>/file-ops.node
// after tsup: lseek's SEEK_DATA and SEEK_HOLE, which let a raw file's holes be
// skipped without reading them, and fallocate(2). Optional by design: with no
// C compiler, no Node headers or on Windows it says so and exits 0, and the
// package reads holes and writes zeros instead (src/node/native-file-ops.ts).
// On Linux the tests require the addon (test/seek-data.test.ts).
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const output = join(root, "dist", "native", `${process.platform}-${process.arch}`, "file-ops.node");

function nodeHeaders() {
  const candidates = [
    process.env.npm_config_nodedir && join(process.env.npm_config_nodedir, "include", "node"),
    join(dirname(process.execPath), "..", "include", "node"),
    "/usr/include/node",
    "/usr/local/include/node",
  ];
  return candidates.find((folder) => folder && existsSync(join(folder, "node_api.h")));
}

function compile() {
  if (process.platform === "win32") return "Windows has no SEEK_DATA";
  const headers = nodeHeaders();
  if (headers === undefined) return "no Node headers (node_api.h) were found; set npm_config_nodedir";
  const compiler = process.env.CC ?? "cc";
  const macFlags = process.platform === "darwin" ? ["-undefined", "dynamic_lookup"] : [];
  mkdirSync(dirname(output), { recursive: true });
  const args = ["-shared", "-fPIC", "-O2", "-Wall", `-I${headers}`, "-DNODE_GYP_MODULE_NAME=file_ops", ...macFlags];
  try {
    execFileSync(compiler, [...args, "-o", output, join(root, "native", "file-ops.c")], { stdio: "pipe" });
  } catch (error) {
    const said = String(error.stderr ?? error.message)
      .trim()
      .split("\n")
      .slice(0, 3)
      .join("\n");
    return `${compiler} failed: ${said}`;
  }
  return null;
}

const failure = compile();
if (failure === null) {
  console.log(`@vhdx/image: built ${output}`);
} else {
  console.log(
    `@vhdx/image: the file-ops addon was not built (${failure}); holes are read and space is reserved by writing zeros`,
  );
}
