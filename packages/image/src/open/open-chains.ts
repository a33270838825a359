// Opening the disks a person hands over at once (the Files dropped on a page,
// in any order, under any names): each one's links are read, a parent is the
// given disk whose DataWriteGuid a child names as parent_linkage (never a
// name), and one image is opened per leaf (a disk that is no other given
// disk's parent) with its parents taken from the given sources. What cannot
// be used is reported, not thrown, so a page can show it.
import { normalizeGuid } from "@vhdx/guid";
import { VhdxError } from "@vhdx/structs";
import type { VhdxImage } from "../image.js";
import { checkOptionKeys } from "../internal/options.js";
import type { RandomAccessSource } from "../sources/source.js";
import { type ChainLinks, readChainLinks } from "./chain-links.js";
import { OPEN_OPTION_KEYS, type OpenOptions, openImage } from "./open-image.js";
import type { ParentResolver } from "./parents.js";

export interface OpenedChains {
  /** One image per leaf, in the order the leaves were given, each reading through its parents. */
  images: VhdxImage[];
  /** The sources no image uses, in the order given, each with why. */
  unused: UnusedSource[];
}

export interface UnusedSource {
  source: RandomAccessSource;
  /** Why, in a sentence a page can show. */
  reason: string;
  /** The error behind the reason (its `code` says what kind), when there is one. */
  error?: VhdxError;
}

interface Disk {
  source: RandomAccessSource;
  index: number;
  links: ChainLinks;
}

/** Only the given sources are parents: no locator is followed unless the caller passes a parentResolver. */
const GIVEN_SOURCES_ONLY: ParentResolver = {
  locate: async () => [],
  openPath: async (path) => {
    throw new TypeError(`openChains: parents come from the given sources, not paths (${path})`);
  },
};

/**
 * Opens every chain in `sources`. A source that is not a VHDX image, a second
 * copy of a disk (same DataWriteGuid), a leaf that does not open (its
 * VhdxError message; with `requireParent: false` a leaf whose parent is
 * missing opens instead, with `parentError`), and the parents only such a
 * leaf needed, come back in `unused`. `options` are openImage's, applied to
 * every leaf. The sources stay the caller's to close, after the images.
 */
export async function openChains(
  sources: readonly RandomAccessSource[],
  options: OpenOptions = {},
): Promise<OpenedChains> {
  if (!Array.isArray(sources)) throw new TypeError("openChains: expected an array of sources");
  checkOptionKeys("openChains", options, OPEN_OPTION_KEYS);
  const unused: (UnusedSource & { index: number })[] = [];
  const disks = await describeAll(sources, unused);
  const parentOf = parentLookup(disks);
  const parents = new Set(disks.map(parentOf).filter((parent): parent is Disk => parent !== null));
  const images: VhdxImage[] = [];
  const used = new Set<Disk>();
  const failed: { leaf: Disk; ancestors: Disk[] }[] = [];
  for (const leaf of disks.filter((disk) => !parents.has(disk))) {
    const ancestors = ancestorsOf(leaf, parentOf);
    try {
      images.push(
        await openImage(leaf.source, {
          ...options,
          parents: [...ancestors.map((disk) => disk.source), ...(options.parents ?? [])],
          parentResolver: options.parentResolver ?? GIVEN_SOURCES_ONLY,
        }),
      );
    } catch (error) {
      if (!VhdxError.isInstance(error)) {
        await Promise.all(images.map((image) => image.close().catch(() => undefined)));
        throw error;
      }
      unused.push({ source: leaf.source, index: leaf.index, reason: error.message, error });
      failed.push({ leaf, ancestors });
      continue;
    }
    for (const disk of [leaf, ...ancestors]) used.add(disk);
  }
  for (const disk of disks) {
    if (used.has(disk) || failed.some(({ leaf }) => leaf === disk)) continue;
    const neededBy = failed.find(({ ancestors }) => ancestors.includes(disk))?.leaf;
    const reason =
      neededBy === undefined
        ? "in a loop of parents: every disk in it is another's parent, so no chain starts there"
        : `a parent of ${neededBy.source.name}, which did not open`;
    unused.push({ source: disk.source, index: disk.index, reason });
  }
  unused.sort((a, b) => a.index - b.index);
  return { images, unused: unused.map(({ index, ...rest }) => rest) };
}

/** Each source's links; what is not VHDX, or repeats a disk already given, goes to `unused`. */
async function describeAll(
  sources: readonly RandomAccessSource[],
  unused: (UnusedSource & { index: number })[],
): Promise<Disk[]> {
  const disks: Disk[] = [];
  for (const [index, source] of sources.entries()) {
    let links: ChainLinks;
    try {
      links = await readChainLinks(source);
    } catch (error) {
      if (!VhdxError.isInstance(error)) throw error;
      unused.push({ source, index, reason: error.message, error });
      continue;
    }
    const guid = normalizeGuid(links.dataWriteGuid);
    const same = disks.find((disk) => normalizeGuid(disk.links.dataWriteGuid) === guid);
    if (same !== undefined) {
      unused.push({ source, index, reason: `the same disk as ${same.source.name} (DataWriteGuid ${guid})` });
      continue;
    }
    disks.push({ source, index, links });
  }
  return disks;
}

/** A disk's parent among the given ones, by parent_linkage then parent_linkage2; null when none is given. */
function parentLookup(disks: readonly Disk[]): (disk: Disk) => Disk | null {
  const byGuid = new Map(disks.map((disk) => [normalizeGuid(disk.links.dataWriteGuid), disk]));
  return (disk) => {
    for (const linkage of disk.links.parentLinkages) {
      const parent = byGuid.get(normalizeGuid(linkage));
      if (parent !== undefined && parent !== disk) return parent;
    }
    return null;
  };
}

/** The given parents of `leaf`, nearest first, up to a missing one (or a loop). */
function ancestorsOf(leaf: Disk, parentOf: (disk: Disk) => Disk | null): Disk[] {
  const ancestors: Disk[] = [];
  for (let parent = parentOf(leaf); parent !== null && parent !== leaf; parent = parentOf(parent)) {
    if (ancestors.includes(parent)) break;
    ancestors.push(parent);
  }
  return ancestors;
}
