// A second power cut, while the log a first cut left is being replayed: the
// replay writes the logged pages, flushes, grows the file and clears LogGuid
// through the header update protocol, and a cut at any of those points must
// leave a file that still replays to the same disk.
import { VhdxError } from "@vhdx/image";
import { FaultInjectingSource, type PowerCutMode } from "@vhdx/image/testing";
import { type CrashProfile, cutPoints } from "./cut-points.js";
import { openWithParent } from "./run-steps.js";
import type { CrashWorkload } from "./workloads.js";

export interface ReplayCut {
  /** For messages: where the second cut fell and what it kept. */
  label: string;
  bytes: Uint8Array;
}

const MODES: readonly PowerCutMode[] = ["drop", "keep-random", "tear"];

/** At most this many second cuts per replay in the short profile (a replay of many BAT pages has hundreds of operations). */
const SHORT_PROFILE_REPLAY_CUTS = 8;

/**
 * What the disk holds after a cut before each mutating operation (or, in the
 * short profile, a sample of them) of a read-write open (the replay) and
 * close of `file`.
 */
export async function replayCuts(
  workload: CrashWorkload,
  file: Uint8Array,
  profile: CrashProfile,
  seed: number,
): Promise<ReplayCut[]> {
  const counter = new FaultInjectingSource(file);
  await (await openWithParent(counter, workload.parent, false)).close();
  const total = counter.operations;
  const cuts: ReplayCut[] = [];
  for (const cut of cutPoints(total - 1, profile, seed, SHORT_PROFILE_REPLAY_CUTS)) {
    const disk = new FaultInjectingSource(file, { cutAfterOperations: cut, seed: seed + cut });
    const error = await openAndClose(workload, disk);
    if (!(VhdxError.isInstance(error) && disk.powerIsCut)) {
      throw new Error(
        `a read-write open and close cut before operation ${cut} of ${total} ended with ${String(error)}, not the power cut`,
      );
    }
    // The modes take turns, so each cut point gets one and each mode a share.
    const mode = MODES[cut % MODES.length]!;
    cuts.push({
      label: `a second cut during the replay, before operation ${cut} of ${total} (${mode})`,
      bytes: await disk.powerCut(mode),
    });
  }
  return cuts;
}

/** What a read-write open and a close of the image on `disk` throw, or null. */
async function openAndClose(workload: CrashWorkload, disk: FaultInjectingSource): Promise<unknown> {
  try {
    await (await openWithParent(disk, workload.parent, false)).close();
    return null;
  } catch (error) {
    return error;
  }
}
