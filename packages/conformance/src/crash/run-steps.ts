// Performs a workload's steps on the image in a source, the way an
// application would: one read-write session, reopened after each resize
// (which closes its image), ending with close().
import {
  MemorySource,
  type RandomAccessSource,
  type VhdxImage,
  compactImage,
  mergeIntoParent,
  openImage,
  resizeImage,
} from "@vhdx/image";
import { KeepOpenSource } from "./keep-open-source.js";
import { performMetadataEdit } from "./metadata-steps.js";
import type { Step } from "./steps.js";

/** What the steps need besides the source: the parent of a differencing disk, the child of a merge. */
export interface StepFiles {
  /** The parent file of the image under test (a differencing disk), or null. */
  parent: Uint8Array | null;
  /** For a merge: the differencing child, and its parent as it was before the merge (the image under test's first bytes). */
  mergeChild: { child: Uint8Array; parent: Uint8Array } | null;
}

export interface StepsOutcome {
  /** Index of the last step that completed; -1 when none did. */
  lastDone: number;
  /** What stopped the steps early (a power cut, or a real failure), or null. */
  error: unknown;
}

export async function runSteps(
  source: RandomAccessSource,
  steps: readonly Step[],
  files: StepFiles,
): Promise<StepsOutcome> {
  const disk = new KeepOpenSource(source);
  let lastDone = -1;
  try {
    let image = await openWritable(disk, files);
    for (const [index, step] of steps.entries()) {
      image = await perform(image, step, disk, files);
      lastDone = index;
    }
    return { lastDone, error: null };
  } catch (error) {
    return { lastDone, error };
  }
}

function openWritable(source: RandomAccessSource, files: StepFiles): Promise<VhdxImage> {
  return openWithParent(source, files.parent, false);
}

/** Opens an image whose parent (if any) is the file `parent`, kept in memory and never written. */
export async function openWithParent(
  source: RandomAccessSource,
  parent: Uint8Array | null,
  readOnly: boolean,
): Promise<VhdxImage> {
  const parents = parent === null ? [] : [await openImage(new MemorySource(parent, { readOnly: true }))];
  return openImage(source, { readOnly, parents });
}

/** The parent file of the image under test, opened read-only (for set-parent). */
function openParentFile(files: StepFiles): Promise<VhdxImage> {
  if (files.parent === null) throw new Error("set-parent: the workload's image has no parent file");
  return openImage(new MemorySource(files.parent, { readOnly: true }));
}

/** Performs one step; returns the image to go on with (a resize closes it, so it is reopened). */
async function perform(image: VhdxImage, step: Step, disk: RandomAccessSource, files: StepFiles): Promise<VhdxImage> {
  switch (step.kind) {
    case "write":
      await image.write(step.offset, new Uint8Array(step.length).fill(step.value));
      return image;
    case "zero":
      await image.writeZeroes(step.offset, step.length);
      return image;
    case "discard":
      await image.discard(step.offset, step.length, step.partial === undefined ? {} : { partial: step.partial });
      return image;
    case "flush":
      await image.flush();
      return image;
    case "compact":
      await compactImage(image);
      return image;
    case "resize":
      await resizeImage(image, step.size, { force: true });
      return openWritable(disk, files);
    case "merge": {
      const { child: childFile, parent } = files.mergeChild!;
      const child = await openWithParent(new MemorySource(childFile, { readOnly: true }), parent, true);
      await mergeIntoParent(child, image);
      return image;
    }
    case "metadata":
      return performMetadataEdit(
        image,
        step.edit,
        () => openWritable(disk, files),
        () => openParentFile(files),
      );
    case "close":
      await image.close();
      return image;
  }
}
