// The metadata edits of the crash workloads "metadata" and "set-parent" (user
// items set and removed, the parent locator rewritten, a new disk ID and
// physical sector size), and the rule a survivor's metadata must follow.
// Each edit is one switch of the metadata table through the log, durable when
// it returns: after a cut, the metadata is as every completed step left it,
// or as the step cut short would have left it, never a mix.
import {
  type VhdxImage,
  getUserMetadata,
  listUserMetadata,
  setDiskProperties,
  setParent,
  removeUserMetadata,
  setUserMetadata,
} from "@vhdx/image";
import { PARENT_PATH_KEYS } from "@vhdx/structs";
import type { Random } from "./random.js";
import type { MetadataEdit } from "./metadata-edit.js";
import type { Step } from "./steps.js";

/** What the metadata holds after some prefix of the steps. */
interface MetadataState {
  /** User items: GUID to [length, fill value]. */
  user: ReadonlyMap<string, readonly [number, number]>;
  /** The locator's path keys, or null for a disk without a parent. */
  paths: Readonly<Record<string, string>> | null;
  physicalSectorSize: number;
  /** How many times the ID was reset (it cannot be predicted, only told apart from the first). */
  idResets: number;
}

/**
 * Performs `edit` on `image`; returns the image to go on with (set-parent and
 * set-properties close it, like resize, so `reopen` opens it again).
 */
export async function performMetadataEdit(
  image: VhdxImage,
  edit: MetadataEdit,
  reopen: () => Promise<VhdxImage>,
  openParent: () => Promise<VhdxImage>,
): Promise<VhdxImage> {
  switch (edit.op) {
    case "set-user":
      await setUserMetadata(image, edit.itemId, new Uint8Array(edit.length).fill(edit.value), {
        isVirtualDisk: edit.isVirtualDisk,
      });
      return image;
    case "remove-user":
      await removeUserMetadata(image, edit.itemId);
      return image;
    case "set-parent": {
      const parent = await openParent();
      try {
        await setParent(image, parent, { paths: edit.paths });
      } finally {
        await parent.close();
      }
      return reopen();
    }
    case "set-properties":
      await setDiskProperties(image, { resetDiskId: edit.resetDiskId, physicalSectorSize: edit.physicalSectorSize });
      return reopen();
  }
}

/** The metadata after every prefix of the edits: what a survivor may show. */
export class MetadataModel {
  /** states[c]: after the first c steps. */
  private readonly states: MetadataState[];

  /** `edits[k]`: the edit of step k, or null for a step that changes no metadata. */
  private constructor(
    private readonly edits: ReadonlyArray<MetadataEdit | null>,
    initial: MetadataState,
    private readonly initialId: string,
  ) {
    let state = initial;
    this.states = [state];
    for (const edit of edits) {
      state = edit === null ? state : next(state, edit);
      this.states.push(state);
    }
  }

  /** The model of `steps` run on `image` (the workload's file before them, opened read-only). */
  static async of(image: VhdxImage, steps: readonly Step[]): Promise<MetadataModel> {
    const found = await observed(image);
    const user = new Map<string, readonly [number, number]>();
    for (const [id, bytes] of found.user) user.set(id, [bytes.length, bytes[0] ?? 0]);
    const paths = found.locator === null ? null : pathKeys(found.locator);
    const initial = { user, paths, physicalSectorSize: found.physicalSectorSize, idResets: 0 };
    const edits = steps.map((step) => (step.kind === "metadata" ? step.edit : null));
    return new MetadataModel(edits, initial, found.virtualDiskId);
  }

  /** Why the survivor's metadata is none the workload may leave after steps [0..lastDone] completed; null when it is one. */
  async explainMismatch(image: VhdxImage, lastDone: number): Promise<string | null> {
    const found = await observed(image);
    const allowed = [this.states[lastDone + 1]!];
    if (this.edits[lastDone + 1]) allowed.push(this.states[lastDone + 2]!);
    const reasons = allowed.map((state) => difference(state, found, this.initialId));
    if (reasons.some((reason) => reason === null)) return null;
    return `metadata: ${reasons.join("; or ")}`;
  }
}

function next(state: MetadataState, edit: MetadataEdit): MetadataState {
  const user = new Map(state.user);
  switch (edit.op) {
    case "set-user":
      user.set(edit.itemId, [edit.length, edit.value]);
      return { ...state, user };
    case "remove-user":
      user.delete(edit.itemId);
      return { ...state, user };
    case "set-parent":
      return { ...state, paths: edit.paths };
    case "set-properties":
      return {
        ...state,
        physicalSectorSize: edit.physicalSectorSize,
        idResets: state.idResets + (edit.resetDiskId ? 1 : 0),
      };
  }
}

interface Observed {
  user: Map<string, Uint8Array>;
  locator: Readonly<Record<string, string>> | null;
  physicalSectorSize: number;
  virtualDiskId: string;
}

async function observed(image: VhdxImage): Promise<Observed> {
  const user = new Map<string, Uint8Array>();
  for (const item of await listUserMetadata(image)) user.set(item.itemId, (await getUserMetadata(image, item.itemId))!);
  return {
    user,
    locator: image.parentLocator,
    physicalSectorSize: image.physicalSectorSize,
    virtualDiskId: image.virtualDiskId,
  };
}

/** How `found` differs from `state`; null when it does not. */
function difference(state: MetadataState, found: Observed, initialId: string): string | null {
  const expected = [...state.user.keys()].sort().join(",");
  const actual = [...found.user.keys()].sort().join(",");
  if (expected !== actual) return `user items [${actual}], expected [${expected}]`;
  for (const [id, [length, value]] of state.user) {
    const bytes = found.user.get(id)!;
    if (bytes.length !== length || bytes.some((b) => b !== value))
      return `user item ${id} is not ${length} bytes of 0x${value.toString(16)}`;
  }
  for (const key of PARENT_PATH_KEYS) {
    const [value, wanted] = [found.locator?.[key], state.paths?.[key]];
    if (value !== wanted) return `locator ${key} is ${value}, expected ${wanted}`;
  }
  if (found.physicalSectorSize !== state.physicalSectorSize)
    return `physical sector size ${found.physicalSectorSize}, expected ${state.physicalSectorSize}`;
  if ((found.virtualDiskId !== initialId) !== state.idResets > 0)
    return `virtual disk id ${state.idResets > 0 ? "was not reset" : "changed"}`;
  return null;
}

function pathKeys(locator: Readonly<Record<string, string>>): Record<string, string> {
  const paths: Record<string, string> = {};
  for (const key of PARENT_PATH_KEYS) if (locator[key] !== undefined) paths[key] = locator[key];
  return paths;
}

/** User item GUIDs the random edits draw from: few, so items are replaced and removed as often as created. */
const USER_ITEMS = [1, 2, 3, 4].map((n) => `0000000${n}-5a5a-4b4b-8c8c-0123456789ab`);
/** Item sizes: empty, small, past a 4 KiB page, many pages. Four of the largest and one more fit in a 1 MiB region. */
const ITEM_LENGTHS = [0, 17, 5000, 70_000];
/** An item whose pages fill more than one log entry (at most half of a 1 MiB log each). */
export const LARGE_ITEM_LENGTH = 520_000;

/** `count` random steps of user item sets and removes and sector size changes, with fill values from `firstValue`. */
export function randomMetadataSteps(random: Random, count: number, firstValue: number): Step[] {
  const steps: Step[] = [];
  for (let i = 0; i < count; i++) {
    const roll = random(10);
    const itemId = USER_ITEMS[random(USER_ITEMS.length)]!;
    let edit: MetadataEdit;
    if (roll < 6) {
      const length = ITEM_LENGTHS[random(ITEM_LENGTHS.length)]!;
      edit = { op: "set-user", itemId, length, value: 1 + ((firstValue + i) % 250), isVirtualDisk: random(2) === 0 };
    } else if (roll < 8) {
      edit = { op: "remove-user", itemId };
    } else {
      edit = { op: "set-properties", resetDiskId: random(2) === 0, physicalSectorSize: random(2) ? 512 : 4096 };
    }
    steps.push({ kind: "metadata", edit });
  }
  return steps;
}
