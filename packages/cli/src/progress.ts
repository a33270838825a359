// A progress bar on stderr for long work, drawn only when stderr is a
// terminal and at most ten times a second; nothing at all otherwise.
import type { CliIO } from "./io.js";

export interface Progress {
  update(done: number): void;
  finish(): void;
}

const WIDTH = 30;

export function progress(io: CliIO, label: string, total: number): Progress {
  if (!io.interactive || total <= 0) return { update() {}, finish() {} };
  let last = 0;
  const draw = (done: number) => {
    const fraction = Math.min(1, done / total);
    const filled = Math.round(fraction * WIDTH);
    io.stderr.write(
      `\r${label} [${"#".repeat(filled)}${" ".repeat(WIDTH - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}%`,
    );
  };
  return {
    update(done) {
      const now = Date.now();
      if (now - last < 100) return;
      last = now;
      draw(done);
    },
    finish() {
      draw(total);
      io.stderr.write("\n");
    },
  };
}

/** A progress bar that can also be left without drawing 100%. */
export function tracker(io: CliIO, label: string, total: number) {
  const bar = progress(io, label, total);
  return {
    update: (done: number) => bar.update(done),
    finish: () => bar.finish(),
    /** Ends the bar's line so an error message starts on its own. */
    abandon: () => {
      if (io.interactive && total > 0) io.stderr.write("\n");
    },
  };
}
