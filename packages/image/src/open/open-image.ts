// openImage: from a source to a VhdxImage, refusing what the spec forbids
// with the rule's error code (MS-VHDX 2.2 to 2.6).
import { computeGeometry } from "@vhdx/bat";
import { isNilGuid } from "@vhdx/guid";
import { REGION_TABLE_1_OFFSET, REGION_TABLE_2_OFFSET, VhdxError } from "@vhdx/structs";
import { type LogReplay, VhdxImage } from "../image.js";
import { checkOptionKeys } from "../internal/options.js";
import { type RandomAccessSource, readBytes } from "../sources/source.js";
import { type HeaderSection, type Headers, readHeaders, usableRegionTable } from "./header-section.js";
import { defaultParentResolver } from "./http-parents.js";
import { readReplayPlan, replayInMemory, replayOnDisk } from "./log-replay.js";
import { checkLayout } from "./layout.js";
import { readMetadata } from "./metadata.js";
import { MAX_CHAIN_DEPTH, type ParentCandidate, type ParentResolver, findParent, sourceIdentity } from "./parents.js";
import { type SalvageOptions, salvageLogOf, withSalvageLog } from "./salvage-option.js";

export interface OpenOptions extends SalvageOptions {
  /** Open without the right to write (the default). A read-only open never writes a byte. */
  readOnly?: boolean;
  /** Candidates for the parents of a differencing chain, tried after the locator's paths. */
  parents?: readonly ParentCandidate[];
  /**
   * Let a parent locator lead outside the child's folder, or, for a child
   * read over HTTP, to another origin than the child's (default false).
   */
  allowParentOutsideTree?: boolean;
  /**
   * How locator paths are opened; @vhdx/image/node's openVhdx supplies one
   * for files. Without one, a child read through an HttpSource resolves its
   * relative_path against its URL.
   */
  parentResolver?: ParentResolver;
  /**
   * false: a read-only differencing disk whose parent cannot be found (or
   * does not match, or loops) still opens, with `parent` null and
   * `parentError` saying why; reading what the parent would supply throws
   * that error. For tools that describe an image. Default true.
   */
  requireParent?: boolean;
}

/** The errors requireParent: false turns into `image.parentError`. */
const PARENT_ERRORS = new Set(["PARENT_NOT_FOUND", "PARENT_LINKAGE_MISMATCH", "PARENT_LOOP"]);

export const OPEN_OPTION_KEYS = [
  "readOnly",
  "parents",
  "allowParentOutsideTree",
  "parentResolver",
  "requireParent",
  "salvage",
  "onSalvage",
] as const satisfies readonly (keyof OpenOptions)[];

/**
 * Opens the VHDX image in `source`. The source stays the caller's, opened or
 * not: `image.close()` ends the write session and closes the parents openImage
 * found itself (through `parentResolver`, or from paths in `parents`), never
 * `source`, nor a source or an image the caller passed in `parents`. Close
 * those yourself after the image.
 */
export async function openImage(source: RandomAccessSource, options: OpenOptions = {}): Promise<VhdxImage> {
  checkOptionKeys("openImage", options, OPEN_OPTION_KEYS);
  return openInChain(source, options, sourceIdentity(source), new Set(), false);
}

/**
 * openImage for a source the library opened itself (openVhdx, createVhdx):
 * the image closes it on close(). If opening fails, the source stays open.
 * Not exported from the package.
 */
export async function openImageOwningSource(source: RandomAccessSource, options: OpenOptions = {}): Promise<VhdxImage> {
  checkOptionKeys("openImage", options, OPEN_OPTION_KEYS);
  return openInChain(source, options, sourceIdentity(source), new Set(), true);
}

/**
 * openImageOwningSource for set-parent alone: a read-write open of a child
 * whose parent is missing or does not match still opens (parent null,
 * parentError set), so that its locator can be rewritten. Not exported.
 */
export async function openChildToRelink(source: RandomAccessSource, options: OpenOptions = {}): Promise<VhdxImage> {
  checkOptionKeys("openImage", options, OPEN_OPTION_KEYS);
  const relink = { ...options, requireParent: false };
  return openInChain(source, relink, sourceIdentity(source), new Set(), true, undefined, true);
}

async function openInChain(
  source: RandomAccessSource,
  options: OpenOptions,
  identity: string,
  below: ReadonlySet<string>,
  ownsSource: boolean,
  knownHeaders?: Headers,
  writerWithoutParent = false,
): Promise<VhdxImage> {
  const readOnly = options.readOnly ?? true;
  options = withSalvageLog(options, readOnly);
  if (!readOnly && source.readOnly) {
    throw new VhdxError("READ_ONLY", `cannot open ${source.name} for writing: the source is read-only`);
  }
  // Parents are found next to the file itself, not next to a replay overlay.
  const file = source;
  const opened = await replayIfNeeded(source, readOnly, knownHeaders);
  source = opened.source;
  const { header, headerSlot, fileIdentifier } = opened;
  const fileSize = await source.size();
  const regionTableOffset = opened.regionTableCopy === 1 ? REGION_TABLE_1_OFFSET : REGION_TABLE_2_OFFSET;
  const layout = checkLayout(header, opened.regionTable, regionTableOffset);
  const metadata = await readMetadata(source, layout.metadata);
  const { fileParameters } = metadata;
  const geometry = computeGeometry({
    virtualSize: metadata.virtualDiskSize,
    blockSize: fileParameters.blockSize,
    logicalSectorSize: metadata.logicalSectorSize,
    hasParent: fileParameters.hasParent,
  });
  checkBatRegion(layout.bat.fileOffset, layout.bat.length, geometry.batByteLength, fileSize);

  let parent: VhdxImage | null = null;
  let ownsParent = false;
  let parentError: VhdxError | null = null;
  if (metadata.parentLocator !== null) {
    const chain = new Set([...below, identity, header.dataWriteGuid]);
    if (chain.size > MAX_CHAIN_DEPTH * 2) {
      throw new VhdxError("PARENT_LOOP", `the chain of parents is deeper than ${MAX_CHAIN_DEPTH}`, {
        structure: "parent locator",
      });
    }
    const found = await findParent({
      locator: metadata.parentLocator.entries,
      child: file,
      logicalSectorSize: metadata.logicalSectorSize,
      candidates: options.parents ?? [],
      resolver: options.parentResolver ?? defaultParentResolver(file),
      allowOutsideTree: options.allowParentOutsideTree ?? false,
      chain,
      // A parent source the caller passed stays the caller's; one the resolver opened is the parent image's.
      openParent: (parentSource, parentIdentity, parentHeaders) =>
        openInChain(
          parentSource,
          { ...options, readOnly: true },
          parentIdentity,
          chain,
          !(options.parents ?? []).includes(parentSource),
          parentHeaders,
        ),
    }).catch((error: unknown) => {
      const optional = (readOnly || writerWithoutParent) && options.requireParent === false;
      if (optional && VhdxError.isInstance(error) && PARENT_ERRORS.has(error.code)) {
        parentError = error;
        return { image: null, owned: false };
      }
      throw error;
    });
    parent = found.image;
    ownsParent = found.owned;
  }
  return new VhdxImage({
    source,
    readOnly,
    fileSize,
    fileIdentifier,
    header,
    headerSlot,
    regionTable: opened.regionTable,
    regionTableCopy: opened.regionTableCopy,
    logReplay: opened.logReplay,
    layout,
    metadata,
    geometry,
    parent,
    parentError,
    ownsParent,
    ownsSource,
    salvage: salvageLogOf(options),
  });
}

interface Opened extends HeaderSection {
  /** The source to read from: the file itself, or an overlay with the log replayed in memory. */
  source: RandomAccessSource;
  logReplay: LogReplay;
}

/**
 * Reads the headers and, when LogGuid is set, replays the log (in memory for a
 * read-only open, on disk otherwise) before the region table is trusted: the
 * region table itself is written through the log.
 */
async function replayIfNeeded(source: RandomAccessSource, readOnly: boolean, known?: Headers): Promise<Opened> {
  const headers = known ?? (await readHeaders(source));
  let { bytes, header, headerSlot } = headers;
  let logReplay: LogReplay = null;
  if (!isNilGuid(header.logGuid)) {
    const plan = await readReplayPlan(source, header, await source.size());
    if (readOnly) {
      source = replayInMemory(source, plan);
      logReplay = "memory";
    } else {
      ({ header, slot: headerSlot } = await replayOnDisk(source, plan, { header, slot: headerSlot }));
      logReplay = "disk";
    }
    bytes = await readBytes(source, 0, bytes.length, "header section");
  }
  const { table, copy } = usableRegionTable(bytes);
  return {
    source,
    fileIdentifier: headers.fileIdentifier,
    header,
    headerSlot,
    headers: headers.headers,
    regionTable: table,
    regionTableCopy: copy,
    logReplay,
  };
}

function checkBatRegion(offset: number, length: number, needed: number, fileSize: number): void {
  if (length < needed) {
    throw new VhdxError("CORRUPT_BAT", `the BAT region holds ${length} bytes but the disk's geometry needs ${needed}`, {
      structure: "region table",
      offset,
    });
  }
  if (offset + needed > fileSize) {
    throw new VhdxError(
      "TRUNCATED",
      `the BAT ends at 0x${(offset + needed).toString(16)}, past the end of the file (0x${fileSize.toString(16)})`,
      {
        structure: "BAT",
        offset,
      },
    );
  }
}
