// The options of a new image, checked and completed in one place. The limits
// are the specification's: VirtualDiskSize (MS-VHDX 2.6.2.2) a multiple of the
// logical sector size and at most 64 TiB; BlockSize (2.6.2.1) a power of two
// from 1 MiB to 256 MiB; sector sizes (2.6.2.4, 2.6.2.5) 512 or 4096; a
// differencing disk (2.6.2.6.3) has its parent's size and logical sector size,
// and parent_linkage is the parent's DataWriteGuid. Forking a differencing
// disk copies the parent's IsVirtualDisk items (2.6.1.2), so the disk id and
// the physical sector size default to the parent's.
import { isGuid, normalizeGuid, randomGuid } from "@vhdx/guid";
import { MAX_BLOCK_SIZE, MAX_VIRTUAL_DISK_SIZE, MIN_BLOCK_SIZE, PARENT_PATH_KEYS, VhdxError } from "@vhdx/structs";
import { VhdxImage } from "../image.js";

export type CreateDiskType = "dynamic" | "fixed" | "differencing";

export interface CreateOptions {
  /** Virtual size in bytes: a multiple of the logical sector size, at most 64 TiB. A differencing disk takes its parent's. */
  size?: number;
  /** "dynamic" (the default), "fixed" or "differencing". */
  type?: CreateDiskType;
  /** Payload block size: a power of two from 1 MiB to 256 MiB (default 32 MiB, 1 MiB for differencing). */
  blockSize?: number;
  /** 512 (the default) or 4096. A differencing disk takes its parent's. */
  logicalSectorSize?: 512 | 4096;
  /** 512 or 4096 (default 4096, the parent's for differencing). */
  physicalSectorSize?: 512 | 4096;
  /** For differencing: the opened parent image. */
  parent?: VhdxImage;
  /** For differencing: the locator's path keys, e.g. { relative_path: "base.vhdx" }; parent_linkage is added. */
  parentLocator?: Readonly<Record<string, string>>;
  /** The file identifier's creator text, at most 256 UTF-16 code units (default "@vhdx/image"). */
  creator?: string;
  /** The Virtual Disk ID (default random; the parent's for differencing). */
  virtualDiskId?: string;
}

export const CREATE_OPTION_KEYS = [
  "size",
  "type",
  "blockSize",
  "logicalSectorSize",
  "physicalSectorSize",
  "parent",
  "parentLocator",
  "creator",
  "virtualDiskId",
] as const satisfies readonly (keyof CreateOptions)[];

/** Everything the writer needs, filled in and checked. */
export interface CreatePlan {
  type: CreateDiskType;
  size: number;
  blockSize: number;
  logicalSectorSize: number;
  physicalSectorSize: number;
  creator: string;
  virtualDiskId: string;
  parent: VhdxImage | null;
  /** The whole locator (parent_linkage first) for differencing, else null. */
  parentLocator: Record<string, string> | null;
}

const MiB = 1024 * 1024;
const DISK_TYPES: readonly string[] = ["dynamic", "fixed", "differencing"];
const CREATOR_UNITS = 256;
/** KeyLength and ValueLength are u16 byte counts. */
const LOCATOR_TEXT_UNITS = 0x7fff;

export function invalidArgument(detail: string): VhdxError {
  return new VhdxError("INVALID_ARGUMENT", detail);
}

/** Checks the options (TypeError for wrong types, INVALID_ARGUMENT for bad values) and fills in the defaults. */
export function resolveCreateOptions(options: CreateOptions): CreatePlan {
  if (typeof options !== "object" || options === null) throw new TypeError("create: options must be an object");
  checkTypes(options);
  const type = checkDiskType(options.type, options.parent !== undefined);
  const parent = options.parent ?? null;
  if (options.parentLocator !== undefined && type !== "differencing") {
    throw invalidArgument(`parentLocator is only for a differencing disk, not a ${type} one`);
  }
  const logicalSectorSize = sectorSize(
    "logicalSectorSize",
    options.logicalSectorSize,
    parent?.logicalSectorSize ?? 512,
  );
  const physicalSectorSize = sectorSize(
    "physicalSectorSize",
    options.physicalSectorSize,
    parent?.physicalSectorSize ?? 4096,
  );
  if (parent !== null && logicalSectorSize !== parent.logicalSectorSize) {
    throw invalidArgument(
      `logicalSectorSize ${logicalSectorSize} differs from the parent's ${parent.logicalSectorSize}; a differencing disk takes its parent's`,
    );
  }
  return {
    type,
    size: diskSize(options.size, parent, logicalSectorSize),
    blockSize: blockSize(options.blockSize ?? (type === "differencing" ? MiB : 32 * MiB)),
    logicalSectorSize,
    physicalSectorSize,
    creator: creator(options.creator ?? "@vhdx/image"),
    virtualDiskId: diskId(options.virtualDiskId ?? parent?.virtualDiskId ?? randomGuid()),
    parent,
    parentLocator: parent === null ? null : locator(options.parentLocator, parent.dataWriteGuid),
  };
}

function checkTypes(options: CreateOptions): void {
  const expect = (name: keyof CreateOptions, kind: "number" | "string") => {
    const value = options[name];
    if (value !== undefined && typeof value !== kind)
      throw new TypeError(`create: ${name} must be a ${kind}, got ${typeof value}`);
  };
  for (const name of ["size", "blockSize", "logicalSectorSize", "physicalSectorSize"] as const) expect(name, "number");
  for (const name of ["type", "creator", "virtualDiskId"] as const) expect(name, "string");
  if (options.parent !== undefined && !(options.parent instanceof VhdxImage)) {
    throw new TypeError("create: parent must be an opened VhdxImage");
  }
  const entries = options.parentLocator;
  if (entries === undefined) return;
  if (typeof entries !== "object" || entries === null || Array.isArray(entries)) {
    throw new TypeError("create: parentLocator must be an object of strings");
  }
  for (const [key, value] of Object.entries(entries)) {
    if (typeof value !== "string")
      throw new TypeError(`create: parentLocator.${key} must be a string, got ${typeof value}`);
  }
}

/** The disk type; refuses a parent without "differencing" and "differencing" without a parent. */
export function checkDiskType(type: string | undefined, hasParent: boolean): CreateDiskType {
  const chosen = type ?? "dynamic";
  if (!DISK_TYPES.includes(chosen)) {
    throw invalidArgument(`type is ${JSON.stringify(chosen)}, expected "dynamic", "fixed" or "differencing"`);
  }
  if (chosen === "differencing" && !hasParent) throw invalidArgument("a differencing disk needs a parent");
  if (chosen !== "differencing" && hasParent) {
    throw invalidArgument(
      `a parent was given for a ${chosen} disk; only a differencing disk has one (type: "differencing")`,
    );
  }
  return chosen as CreateDiskType;
}

function sectorSize(name: string, value: number | undefined, fallback: number): number {
  const size = value ?? fallback;
  if (size !== 512 && size !== 4096) throw invalidArgument(`${name} is ${size}, expected 512 or 4096`);
  return size;
}

function diskSize(size: number | undefined, parent: VhdxImage | null, logicalSectorSize: number): number {
  if (parent !== null) {
    if (size !== undefined && size !== parent.virtualSize) {
      throw invalidArgument(
        `size ${size} differs from the parent's ${parent.virtualSize}; a differencing disk takes its parent's size`,
      );
    }
    return parent.virtualSize;
  }
  if (size === undefined) throw invalidArgument("size is required: the virtual disk size in bytes");
  if (!Number.isSafeInteger(size) || size <= 0)
    throw invalidArgument(`size is ${size}, expected a positive whole number of bytes`);
  if (size % logicalSectorSize !== 0) {
    throw invalidArgument(`size ${size} is not a multiple of the ${logicalSectorSize}-byte logical sector`);
  }
  if (size > MAX_VIRTUAL_DISK_SIZE)
    throw invalidArgument(`size ${size} is over the format's limit of 64 TiB (${MAX_VIRTUAL_DISK_SIZE})`);
  return size;
}

function blockSize(size: number): number {
  const powerOfTwo = Number.isInteger(size) && size > 0 && (size & (size - 1)) === 0;
  if (!powerOfTwo || size < MIN_BLOCK_SIZE || size > MAX_BLOCK_SIZE) {
    throw invalidArgument(
      `blockSize is ${size}, expected a power of two from 1 MiB (${MIN_BLOCK_SIZE}) to 256 MiB (${MAX_BLOCK_SIZE})`,
    );
  }
  return size;
}

function creator(text: string): string {
  if (text.length > CREATOR_UNITS)
    throw invalidArgument(`creator is ${text.length} UTF-16 code units, at most ${CREATOR_UNITS} fit`);
  if (text.includes("\0")) throw invalidArgument("creator holds a NUL character");
  return text;
}

function diskId(text: string): string {
  if (!isGuid(text)) throw invalidArgument(`virtualDiskId ${JSON.stringify(text)} is not a GUID`);
  return normalizeGuid(text);
}

/** parent_linkage from the parent, then the caller's keys; at least one path key is required. */
function locator(given: Readonly<Record<string, string>> | undefined, dataWriteGuid: string): Record<string, string> {
  const linkage = `{${normalizeGuid(dataWriteGuid)}}`;
  const entries: Record<string, string> = { parent_linkage: linkage };
  for (const [key, value] of Object.entries(given ?? {})) {
    if (key === "parent_linkage") {
      if (!isGuid(value) || normalizeGuid(value) !== normalizeGuid(dataWriteGuid)) {
        throw invalidArgument(
          `parentLocator.parent_linkage ${JSON.stringify(value)} is not the parent's DataWriteGuid ${linkage}`,
        );
      }
      continue;
    }
    checkLocatorText(key, value);
    entries[key] = value;
  }
  if (!PARENT_PATH_KEYS.some((key) => Object.hasOwn(entries, key))) {
    throw invalidArgument(`parentLocator needs at least one of ${PARENT_PATH_KEYS.join(", ")} to find the parent`);
  }
  return entries;
}

function checkLocatorText(key: string, value: string): void {
  for (const [what, text] of [
    ["key", key],
    ["value", value],
  ] as const) {
    if (text === "")
      throw invalidArgument(
        `parentLocator has an empty ${what}${what === "value" ? ` for ${JSON.stringify(key)}` : ""}`,
      );
    if (text.includes("\0"))
      throw invalidArgument(`parentLocator ${what} ${JSON.stringify(text)} holds a NUL character`);
    if (text.length > LOCATOR_TEXT_UNITS) {
      throw invalidArgument(
        `parentLocator ${what} of ${JSON.stringify(key)} is ${text.length} UTF-16 code units, at most ${LOCATOR_TEXT_UNITS} fit`,
      );
    }
  }
}
