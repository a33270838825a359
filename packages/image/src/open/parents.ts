// Finding a differencing disk's parent (MS-VHDX 2.6.2.6): the locator's paths
// in the spec's order, then the candidates the caller passed. A candidate is
// the parent only when its DataWriteGuid equals parent_linkage (or
// parent_linkage2) and its logical sector size equals the child's. A place
// that cannot be read (a 404, an I/O error) is not the parent: it is named in
// the PARENT_NOT_FOUND message. The headers read to check the linkage are
// handed on to the parent's open, so they are read once.
import { guidEquals, isGuid } from "@vhdx/guid";
import { VhdxError } from "@vhdx/structs";
import type { VhdxImage } from "../image.js";
import type { RandomAccessSource } from "../sources/source.js";
import { type Headers, readHeaders } from "./header-section.js";
import { isHttpUrl, openUrlCandidate } from "./http-parents.js";
import type { ParentLocation, ParentResolver } from "./parent-resolver.js";

export type { ParentLocation, ParentResolver } from "./parent-resolver.js";

/** What `options.parents` may hold: sources, opened images, http(s) URLs, or (in Node) paths. */
export type ParentCandidate = RandomAccessSource | VhdxImage | string;

/** A location being tried; sources the caller passed stay open when they are not the parent. */
type Attempt = ParentLocation & { closeIfRejected: boolean };

/** What was tried and why it failed, for the message; and the places that were locked by another program. */
type Tried = string[] & { locked: VhdxError[] };

export interface ParentSearch {
  locator: Readonly<Record<string, string>>;
  child: RandomAccessSource;
  logicalSectorSize: number;
  candidates: readonly ParentCandidate[];
  resolver: ParentResolver | undefined;
  allowOutsideTree: boolean;
  /** Identities and DataWriteGuids already in the chain below this parent. */
  chain: ReadonlySet<string>;
  /** Opens a found parent source as an image (read-only), continuing the chain; `headers` are its own, already read. */
  openParent(source: RandomAccessSource, identity: string, headers: Headers): Promise<VhdxImage>;
}

export const MAX_CHAIN_DEPTH = 256;

const sourceIdentities = new WeakMap<RandomAccessSource, string>();
let nextSourceIdentity = 1;

/** A chain identity for a source the caller handed over: the object itself, not its name. */
export function sourceIdentity(source: RandomAccessSource): string {
  let identity = sourceIdentities.get(source);
  if (identity === undefined) {
    identity = `source#${nextSourceIdentity++} (${source.name})`;
    sourceIdentities.set(source, identity);
  }
  return identity;
}

export async function findParent(search: ParentSearch): Promise<{ image: VhdxImage; owned: boolean }> {
  const linkages = linkageGuids(search.locator);
  const tried: Tried = Object.assign([], { locked: [] });
  let mismatch = false;
  const accept = (dataWriteGuid: string, description: string) => {
    if (linkages.some((linkage) => guidEquals(linkage, dataWriteGuid))) return true;
    mismatch = true;
    tried.push(`${description}: DataWriteGuid ${dataWriteGuid} is not the linkage ${linkages.join(" or ")}`);
    return false;
  };
  for (const location of search.resolver
    ? await search.resolver.locate(search.locator, search.child, search.allowOutsideTree)
    : []) {
    if (location.refusal !== undefined) {
      tried.push(`${location.description}: ${location.refusal}`);
      continue;
    }
    const found = await tryLocation({ ...location, closeIfRejected: true }, search, accept, tried);
    if (found !== null) return { image: found, owned: true };
  }
  for (const candidate of search.candidates) {
    if (typeof candidate === "object" && "dataWriteGuid" in candidate) {
      if (accept(candidate.dataWriteGuid, `parent ${candidate.source.name}`)) {
        checkSectorSize(candidate.logicalSectorSize, search, candidate.source.name);
        return { image: candidate, owned: false };
      }
      continue;
    }
    if (typeof candidate !== "string" && search.chain.has(sourceIdentity(candidate))) continue; // a child of this one
    const opened = await openCandidate(candidate, search, tried);
    if (opened === null) continue;
    const closeIfRejected = typeof candidate === "string";
    const found = await tryLocation(
      { ...opened, open: async () => opened.source, closeIfRejected },
      search,
      accept,
      tried,
    );
    if (found !== null) return { image: found, owned: true };
  }
  // A place that exists but another program holds is better reported as such than as no parent.
  if (tried.locked[0] !== undefined) throw tried.locked[0];
  const code = mismatch ? "PARENT_LINKAGE_MISMATCH" : "PARENT_NOT_FOUND";
  const where =
    tried.length > 0 ? `tried ${tried.join("; ")}` : "the locator has no usable path and no parents were given";
  throw new VhdxError(code, `no parent with DataWriteGuid ${linkages.join(" or ")} found: ${where}`, {
    structure: "parent locator",
  });
}

/** Opens the place, checks its linkage, and opens it as the parent image; null when it is not the parent. */
async function tryLocation(
  location: Attempt,
  search: ParentSearch,
  accept: (dataWriteGuid: string, description: string) => boolean,
  tried: Tried,
): Promise<VhdxImage | null> {
  let source: RandomAccessSource;
  try {
    source = await location.open();
  } catch (error) {
    if (isLocked(error)) tried.locked.push(error);
    tried.push(`${location.description}: ${VhdxError.isInstance(error) ? error.detail : String(error)}`);
    return null;
  }
  const headers = await readHeaders(source).catch(async (error: unknown) => {
    if (location.closeIfRejected) await source.close().catch(() => undefined);
    if (!isUnreadable(error)) throw error;
    tried.push(`${location.description}: ${error.detail}`);
    return null;
  });
  if (headers === null) return null;
  const { header } = headers;
  let image: VhdxImage | null = null;
  try {
    if (search.chain.has(location.identity) || search.chain.has(header.dataWriteGuid)) {
      throw new VhdxError("PARENT_LOOP", `${location.description} is already in the chain of parents`, {
        structure: "parent locator",
      });
    }
    if (!accept(header.dataWriteGuid, location.description)) {
      if (location.closeIfRejected) await source.close();
      return null;
    }
    image = await search.openParent(source, location.identity, headers);
    checkSectorSize(image.logicalSectorSize, search, location.description);
    return image;
  } catch (error) {
    // A source the caller passed stays open; the image opened over it does not own it.
    if (image !== null) await image.close().catch(() => undefined);
    else if (location.closeIfRejected) await source.close().catch(() => undefined);
    throw error;
  }
}

async function openCandidate(
  candidate: RandomAccessSource | string,
  search: ParentSearch,
  tried: Tried,
): Promise<{ source: RandomAccessSource; identity: string; description: string } | null> {
  if (typeof candidate !== "string")
    return { source: candidate, identity: sourceIdentity(candidate), description: `parent ${candidate.name}` };
  if (isHttpUrl(candidate)) return openUrlCandidate(candidate, search.child);
  if (search.resolver === undefined)
    throw new TypeError("parents: paths need @vhdx/image/node's openVhdx; pass sources instead");
  try {
    const { source, identity } = await search.resolver.openPath(candidate);
    return { source, identity, description: `parent ${candidate}` };
  } catch (error) {
    if (isLocked(error)) tried.locked.push(error);
    tried.push(`parent ${candidate}: ${VhdxError.isInstance(error) ? error.detail : String(error)}`);
    return null;
  }
}

/** A place that exists in name only: a 404, a refused or failed read. */
function isUnreadable(error: unknown): error is VhdxError {
  return VhdxError.isInstance(error) && error.code === "IO_ERROR";
}

function isLocked(error: unknown): error is VhdxError {
  return VhdxError.isInstance(error) && error.code === "LOCKED";
}

export function linkageGuids(locator: Readonly<Record<string, string>>): string[] {
  const guids = [locator.parent_linkage, locator.parent_linkage2].filter(
    (g): g is string => g !== undefined && isGuid(g),
  );
  if (guids.length === 0) {
    throw new VhdxError("BAD_FIELD", "parent_linkage is missing or not a GUID", {
      structure: "parent locator",
      field: "parent_linkage",
    });
  }
  return guids;
}

function checkSectorSize(parentSize: number, search: ParentSearch, description: string): void {
  if (parentSize !== search.logicalSectorSize) {
    throw new VhdxError(
      "PARENT_LINKAGE_MISMATCH",
      `${description} has ${parentSize}-byte logical sectors, the child ${search.logicalSectorSize}`,
      { structure: "parent locator" },
    );
  }
}
