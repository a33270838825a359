// `qemu-img check` on an image our writer made: QEMU must find no errors and no leaks.
import { qemuCheck } from "@vhdx-tools/oracles";
import type { CorpusImage } from "../corpus/corpus-image.js";
import type { Comparison } from "../results.js";

export function writerImageChecked(entry: CorpusImage): Comparison {
  try {
    qemuCheck(entry.path);
    return { oracle: "qemu-img check", image: entry.name, bytesCompared: 0, mismatches: [] };
  } catch (error) {
    return {
      oracle: "qemu-img check",
      image: entry.name,
      bytesCompared: 0,
      mismatches: [`qemu-img check failed: ${firstLines(error)}`],
    };
  }
}

function firstLines(error: unknown): string {
  return String(error instanceof Error ? error.message : error)
    .split("\n")
    .slice(0, 6)
    .join(" | ");
}
