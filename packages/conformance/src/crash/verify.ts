// Everything a file left by a power cut must pass: it opens read-only (log
// replayed in memory) and read-write (log replayed into the file), both read
// the same, the contents follow the model (every flushed write is there), the
// replayed file passes `vhdx check` and, where QEMU can open it, `qemu-img
// check`; where QEMU can replay our log, its replay reads as ours; after a
// merge cut short, the child still reads the same over the parent.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { MemorySource, type VhdxImage } from "@vhdx/image";
import { firstDifference, isAllZero } from "./bytes.js";
import { qemuCheckProblem, qemuReplayProblem, vhdxCheckProblem } from "./checkers.js";
import { mergedViewProblem } from "./merged-view.js";
import { openWithParent } from "./run-steps.js";
import { type CrashWorkload, PARENT_FILE_NAME } from "./workloads.js";

/** What the disk holds after a power cut, and how far the workload had got. */
export interface Survivor {
  bytes: Uint8Array;
  /** Index of the last step that completed before the cut (-1: none). */
  lastDone: number;
}

export interface VerifyOptions {
  /** A folder of the workload's own (see prepareCheckFolder) where the file is written for the checkers. */
  dir: string;
  /** Run `qemu-img check` too, and let QEMU replay the log itself. */
  qemu: boolean;
  /** The first bytes of the disk exactly, when they are known (a second cut during a replay must not change them). */
  expected?: Uint8Array;
}

export interface Verdict {
  /** Every rule the survivor breaks; empty when it passes. */
  problems: string[];
  /** The survivor held a log, which the read-write open replayed. */
  replayed: boolean;
  /** The disk's first bytes (as many as the model keeps) after the replay, or null when they could not be read. */
  contents: Uint8Array | null;
}

/** Bytes read at the end of a disk larger than the model's window: they must be zeros. */
const TAIL_SAMPLE = 64 * 1024;
const IMAGE_FILE_NAME = "image.vhdx";
const QEMU_REPLAY_FILE_NAME = "qemu-replay.vhdx";

/** Writes the files the checkers need besides the image itself (a differencing image's parent). */
export async function prepareCheckFolder(dir: string, workload: CrashWorkload): Promise<void> {
  if (workload.parent !== null) await writeFile(join(dir, PARENT_FILE_NAME), workload.parent);
}

/** Checks the survivor; `survivor.bytes` is left as it is. */
export async function verifySurvivor(
  workload: CrashWorkload,
  survivor: Survivor,
  options: VerifyOptions,
): Promise<Verdict> {
  const problems: string[] = [];
  const inMemory = await openInMemory(workload, survivor.bytes, problems);
  const file = new MemorySource(survivor.bytes.slice());
  const writable = await attempt(problems, "does not open read-write (replay on disk)", () =>
    openWithParent(file, workload.parent, false),
  );
  if (writable === null) return { problems, replayed: inMemory?.replayed ?? false, contents: null };
  const replayed = writable.logReplay === "disk";
  if (inMemory !== null && inMemory.replayed !== replayed) {
    problems.push(
      `a read-only open ${inMemory.replayed ? "replays" : "finds no log to replay"}, a read-write open ${replayed ? "replays" : "does not"}`,
    );
  }
  const onDisk = await attempt(problems, "cannot be read after a replay on disk", () =>
    readContents(writable, workload),
  );
  if (onDisk !== null) {
    problems.push(
      ...contentProblems(
        workload,
        onDisk,
        writable.virtualSize,
        survivor.lastDone,
        inMemory?.contents ?? null,
        options.expected,
      ),
    );
    const tail = await attempt(problems, "cannot be read at the end of the disk", () => tailIsZero(writable, workload));
    if (tail === false) problems.push(`the last bytes of the ${writable.virtualSize}-byte disk are not zeros`);
    const metadata = await attempt(problems, "its metadata cannot be read", async () =>
      workload.metadata === null ? null : workload.metadata.explainMismatch(writable, survivor.lastDone),
    );
    if (metadata) problems.push(metadata);
  }
  const verdict = { problems, replayed, contents: onDisk };
  if (
    (await attempt(problems, "close after the replay failed", async () => {
      await writable.close();
      return true;
    })) === null
  )
    return verdict;
  problems.push(...(await checkReplayedFile(workload, file.bytes(), options)));
  if (replayed && onDisk !== null && options.qemu && workload.qemuReplaysLog) {
    const path = join(options.dir, QEMU_REPLAY_FILE_NAME);
    await writeFile(path, survivor.bytes);
    const qemu = await qemuReplayProblem(path, onDisk);
    if (qemu !== null) problems.push(qemu);
  }
  return verdict;
}

/** How the disk's first bytes after the replay on disk break the model, or differ from what they must be. */
function contentProblems(
  workload: CrashWorkload,
  onDisk: Uint8Array,
  virtualSize: number,
  lastDone: number,
  inMemory: Uint8Array | null,
  expected: Uint8Array | undefined,
): string[] {
  const problems: string[] = [];
  const differs = inMemory === null ? -1 : firstDifference(inMemory, onDisk);
  if (differs >= 0) problems.push(`replay in memory and replay on disk read differently at byte ${differs}`);
  const unlike = expected === undefined ? -1 : firstDifference(onDisk, expected);
  if (unlike >= 0)
    problems.push(
      `reads ${onDisk[unlike]} at byte ${unlike}, where the same file replayed without a second cut reads ${expected![unlike]}`,
    );
  const mismatch = workload.model.explainMismatch(onDisk, virtualSize, lastDone);
  if (mismatch !== null) problems.push(`model: ${mismatch}`);
  return problems;
}

/**
 * Opens the survivor read-only (a log is replayed in memory) and, when there
 * was a log to replay, reads it; null when it does not open.
 */
async function openInMemory(workload: CrashWorkload, bytes: Uint8Array, problems: string[]) {
  const image = await attempt(problems, "does not open read-only", () =>
    openWithParent(new MemorySource(bytes, { readOnly: true }), workload.parent, true),
  );
  if (image === null) return null;
  const replayed = image.needsReplay;
  const contents = replayed
    ? await attempt(problems, "cannot be read after a replay in memory", () => readContents(image, workload))
    : null;
  await image.close();
  return { replayed, contents };
}

async function checkReplayedFile(
  workload: CrashWorkload,
  replayed: Uint8Array,
  options: VerifyOptions,
): Promise<string[]> {
  const problems: string[] = [];
  const path = join(options.dir, IMAGE_FILE_NAME);
  await writeFile(path, replayed);
  const ours = await vhdxCheckProblem(path);
  if (ours !== null) problems.push(ours);
  if (options.qemu && workload.qemuCanOpen) {
    const qemu = await qemuCheckProblem(path);
    if (qemu !== null) problems.push(qemu);
  }
  const merge = workload.mergeChild;
  if (merge !== null) {
    const view = await mergedViewProblem(
      merge.child,
      replayed,
      merge.parentDataWriteGuid,
      workload.model.context.merged!,
    ).catch((error: unknown) => `merged view: the child does not open over the merged parent: ${String(error)}`);
    if (view !== null) problems.push(view);
  }
  return problems;
}

/** The disk's first bytes, as many as the model keeps. */
function readContents(image: VhdxImage, workload: CrashWorkload): Promise<Uint8Array> {
  return image.read(0, Math.min(image.virtualSize, workload.model.context.window));
}

async function tailIsZero(image: VhdxImage, workload: CrashWorkload): Promise<boolean> {
  const window = workload.model.context.window;
  if (image.virtualSize <= window) return true;
  const length = Math.min(TAIL_SAMPLE, image.virtualSize - window);
  return isAllZero(await image.read(image.virtualSize - length, length));
}

/** The value of `body`, or null with a problem recorded when it throws. */
async function attempt<T>(problems: string[], what: string, body: () => Promise<T>): Promise<T | null> {
  try {
    return await body();
  } catch (error) {
    problems.push(`${what}: ${error instanceof Error ? error.message : String(error)}`);
    return null;
  }
}
