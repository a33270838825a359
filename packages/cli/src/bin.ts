import { runCli } from "./cli.js";

// A reader that goes away (`vhdx cat disk.vhdx | head`) is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw error;
  });
}

const status = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  interactive: process.stderr.isTTY === true,
  cwd: process.cwd(),
});
process.exitCode = status;
