// One side of the `serve-*` cases: starts an NBD server on a Unix socket
// (ours: `vhdx serve --read-only`; the peer: `qemu-nbd -f vhdx -r`, both
// letting 8 clients in so nbdcopy may use several connections), runs one
// client against it, stops the server, and prints the client's time alone as
// JSON ({"ms"}) on stdout, so neither server's start-up is counted.
//
//   node nbd-serve.mjs ours|qemu-nbd VHDX_BIN FILE seq
//   node nbd-serve.mjs ours|qemu-nbd VHDX_BIN FILE random COUNT STEP
//
// seq: `nbdcopy URI null:`, the whole disk read sequentially (nbdcopy's
// default connections and requests in flight). random: `qemu-img bench -f raw
// -c COUNT -d 1 -s 4K -S STEP`, scattered 4 KiB reads at depth 1 (the
// offsets of the read-random case).
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [side, bin, file, mode, count, step] = process.argv.slice(2);
const dir = mkdtempSync(join(tmpdir(), "vhdx-bench-nbd-"));
const socket = join(dir, "nbd.sock");
const server =
  side === "ours"
    ? spawn(process.execPath, [bin, "serve", "--read-only", "--shared", "8", "--socket", socket, file], {
        stdio: "ignore",
      })
    : spawn("qemu-nbd", ["-f", "vhdx", "-r", "-e", "8", "-k", socket, file], { stdio: "ignore" });
try {
  await listening(socket);
  const uri = `nbd+unix:///?socket=${socket}`;
  const client =
    mode === "seq"
      ? ["nbdcopy", [uri, "null:"]]
      : ["qemu-img", ["bench", "-f", "raw", "-c", count, "-d", "1", "-s", "4K", "-S", step, uri]];
  const start = performance.now();
  execFileSync(client[0], client[1], { stdio: ["ignore", "ignore", "inherit"] });
  console.log(JSON.stringify({ ms: performance.now() - start }));
} finally {
  server.kill("SIGTERM");
  await new Promise((resolve) => (server.exitCode !== null ? resolve() : server.once("exit", resolve)));
  rmSync(dir, { recursive: true, force: true });
}

/** Resolves once a connection to the socket is accepted (polled every 20 ms, for at most 30 s). */
async function listening(path) {
  for (let tries = 0; tries < 1500; tries++) {
    const up = await new Promise((resolve) => {
      const probe = connect(path);
      probe.once("connect", () => {
        probe.destroy();
        resolve(true);
      });
      probe.once("error", () => resolve(false));
    });
    if (up) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`${side}: no NBD server listening on ${path} after 30 s`);
}
