// The command as a program: runCli on the process's own streams. Built as
// one CommonJS bundle (dist/vhdx-program.cjs) that src/launch.ts runs, so no
// top-level await. Nothing is made before it is used: stdin alone costs Node
// about 2 ms to make and most commands never read it, and text for stdout is
// written to its file descriptor until something needs the stream itself.
import { writeSync } from "node:fs";
import { runCli } from "./cli.js";
import type { CliIO } from "./io.js";

const STDOUT_FD = 1;

/** Set once a stream was asked for; from then on text goes through it, in order. */
let stdoutStream: NodeJS.WritableStream | undefined;
let stderrStream: NodeJS.WritableStream | undefined;

// A reader that goes away (`vhdx cat disk.vhdx | head`) is not an error.
function exitOnClosedPipe(stream: NodeJS.WritableStream): NodeJS.WritableStream {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") exitAfterClosedPipe();
    throw error;
  });
  return stream;
}

function exitAfterClosedPipe(): never {
  process.exit(process.exitCode ?? 0);
}

/**
 * Writes `text` to stdout's descriptor while no stream exists for it. What
 * the descriptor does not take at once (a non-blocking pipe that is full) or
 * refuses for another reason than a closed pipe goes through the stream,
 * which waits, or reports the error as it always did.
 */
function print(text: string): void {
  if (stdoutStream !== undefined) {
    stdoutStream.write(text);
    return;
  }
  const bytes = Buffer.from(text);
  let written = 0;
  try {
    while (written < bytes.length) written += writeSync(STDOUT_FD, bytes, written);
    return;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EPIPE") exitAfterClosedPipe();
  }
  io.stdout.write(bytes.subarray(written));
}

const io: CliIO = {
  get stdout() {
    stdoutStream ??= exitOnClosedPipe(process.stdout);
    return stdoutStream;
  },
  get stderr() {
    stderrStream ??= exitOnClosedPipe(process.stderr);
    return stderrStream;
  },
  get stdin() {
    return process.stdin;
  },
  // Asking stderr makes it too, and loads node:tty or node:net with it.
  get interactive() {
    return process.stderr.isTTY === true;
  },
  cwd: process.cwd(),
  print,
};

void runCli(process.argv.slice(2), io).then((status) => {
  process.exitCode = status;
});
