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
  /**
   * Writes text to stdout, in order with what goes through `stdout`. The
   * command's own (bin.ts) writes to the file descriptor as long as nothing
   * made the stream: making it costs Node about 3 ms (node:net for a pipe).
   * Without it, `stdout` is used.
   */
  print?(text: string): void;
}

/**
 * `io` with `changes` applied. The streams are copied as they are defined:
 * the command's own are getters that make each stream on first use (see
 * bin.ts), and an object spread would make them all.
 */
export function withChanges(io: CliIO, changes: Partial<CliIO>): CliIO {
  const descriptors = { ...Object.getOwnPropertyDescriptors(io), ...Object.getOwnPropertyDescriptors(changes) };
  return Object.defineProperties({}, descriptors) as CliIO;
}

/** A warning on stderr, unless -q. */
export function warn(io: CliIO, message: string): void {
  if (!io.quiet) writeLine(io.stderr, `vhdx: warning: ${message}`);
}

export function writeLine(stream: NodeJS.WritableStream, line = ""): void {
  stream.write(`${line}\n`);
}

/** A line of text on stdout (see CliIO.print). */
export function printLine(io: CliIO, line = ""): void {
  if (io.print) io.print(`${line}\n`);
  else writeLine(io.stdout, line);
}

export function writeJson(io: CliIO, value: unknown): void {
  printLine(io, JSON.stringify(value, null, 2));
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
