// What a subcommand gets to talk to the world: the streams (so tests can run
// commands in-process) and whether stderr is a terminal (for progress bars).
export interface CliIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream;
  /** stderr is a terminal: draw progress bars there. */
  interactive: boolean;
  /** Current folder, for relative paths. */
  cwd: string;
  /** -q: no warnings on stderr (errors are still reported). */
  quiet?: boolean;
  /** --json: errors, and the report of an interruption, are JSON objects on stderr. */
  json?: boolean;
}

/** A warning on stderr, unless -q. */
export function warn(io: CliIO, message: string): void {
  if (!io.quiet) writeLine(io.stderr, `vhdx: warning: ${message}`);
}

export function writeLine(stream: NodeJS.WritableStream, line = ""): void {
  stream.write(`${line}\n`);
}

export function writeJson(io: CliIO, value: unknown): void {
  writeLine(io.stdout, JSON.stringify(value, null, 2));
}

/**
 * Writes `chunk` to a stream and waits when the stream asks to (backpressure),
 * so piping a 1 TiB disk to stdout uses bounded memory. A closed pipe (the
 * reader went away, as with `| head`) ends the wait with an EPIPE error.
 */
export function writeChunk(stream: NodeJS.WritableStream, chunk: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    stream.once("error", onError);
    const flushed = stream.write(chunk, (error) => {
      stream.removeListener("error", onError);
      if (error) reject(error);
      else if (flushed) resolve();
    });
    if (!flushed) {
      stream.once("drain", () => {
        stream.removeListener("error", onError);
        resolve();
      });
    }
  });
}
