// Rewriting a differencing disk's parent locator (MS-VHDX 2.6.2.6): paths
// that lead outside the child's folder, at the child itself (a cycle), or
// nowhere; linkages that match nothing, are malformed or name the child.
import { encodeParentLocator } from "@vhdx/structs";
import type { Prng } from "../random.js";
import type { LocatorInfo, StructureMap } from "./structure-map.js";

type Entries = Record<string, string>;

const HOSTILE_PATHS = [
  "..\\..\\etc\\passwd",
  "../../etc/passwd",
  "/etc/passwd",
  "/dev/zero",
  "/dev/urandom",
  "/proc/self/mem",
  "\\\\?\\C:\\Windows\\System32\\config\\SAM",
  "C:\\parent.vhdx",
  "\\\\server\\share\\parent.vhdx",
  "\\\\?\\Volume{00000000-0000-0000-0000-000000000000}\\parent.vhdx",
  ".",
  "..",
  ".\\",
  "",
  " ",
  "parent.vhdx\\..\\..\\..\\parent.vhdx",
  "PARENT.VHDX",
  "missing.vhdx",
  "a".repeat(4000),
  `${"..\\".repeat(300)}parent.vhdx`,
  "\u00e9\u4e2d\ud83d\ude00.vhdx",
  "\ud800.vhdx",
];

const PATH_KEYS = ["relative_path", "volume_path", "absolute_win32_path"];

/** Applies one locator rewrite; null when the seed has no locator or the result does not fit. */
export function mutateLocator(bytes: Uint8Array, map: StructureMap, rng: Prng, selfName: string): string | null {
  const info = map.locator;
  if (info === null) return null;
  const entries: Entries = { ...info.locator.entries };
  const ownGuid = map.dataWriteGuid ?? "00000000-0000-0000-0000-000000000000";
  const description = rng.weighted<() => string>([
    [5, () => setKey(entries, rng.pick(PATH_KEYS), rng.pick(HOSTILE_PATHS))],
    [3, () => cycle(entries, selfName, ownGuid, rng)],
    [3, () => setKey(entries, rng.pick(["parent_linkage", "parent_linkage2"]), linkage(rng, ownGuid))],
    [2, () => removeKey(entries, rng.pick(Object.keys(entries)))],
    [1, () => removeAllPaths(entries)],
    [1, () => setKey(entries, rng.pick(["", "Relative_Path", "relative_path\u0000", "x".repeat(300)]), "parent.vhdx")],
  ])();
  const locatorType = rng.chance(0.1) ? "00000000-0000-0000-0000-000000000000" : info.locator.locatorType;
  return write(bytes, info, { locatorType, entries }) ? `parent locator: ${description}` : null;
}

function setKey(entries: Entries, key: string, value: string): string {
  entries[key] = value;
  return `${key} = ${JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}...(${value.length} chars)` : value)}`;
}

function removeKey(entries: Entries, key: string | undefined): string {
  if (key === undefined) return "no keys to remove";
  delete entries[key];
  return `remove ${key}`;
}

function removeAllPaths(entries: Entries): string {
  for (const key of PATH_KEYS) delete entries[key];
  return "remove every path key";
}

/** The child as its own parent: its own file name, and (mostly) its own DataWriteGuid as the linkage. */
function cycle(entries: Entries, selfName: string, ownGuid: string, rng: Prng): string {
  entries.relative_path = rng.pick([selfName, `.\\${selfName}`]);
  delete entries.absolute_win32_path;
  delete entries.volume_path;
  if (rng.chance(0.8)) entries.parent_linkage = `{${ownGuid}}`;
  return `cycle: relative_path = ${JSON.stringify(entries.relative_path)}, parent_linkage = ${entries.parent_linkage}`;
}

function linkage(rng: Prng, ownGuid: string): string {
  return rng.pick([
    `{${ownGuid}}`,
    ownGuid,
    "{00000000-0000-0000-0000-000000000000}",
    "{ffffffff-ffff-ffff-ffff-ffffffffffff}",
    "{not-a-guid}",
    "{12345678-1234-1234-1234-1234567890ab",
    "",
    `{${ownGuid.toUpperCase()}}`,
  ]);
}

/** Replaces the locator's entries (keeping its type); false when the seed has none or they do not fit. */
export function rewriteLocator(bytes: Uint8Array, map: StructureMap, entries: Entries): boolean {
  return map.locator !== null && write(bytes, map.locator, { locatorType: map.locator.locator.locatorType, entries });
}

/** Encodes the locator into the item's room and updates the item's length in the metadata table. */
function write(bytes: Uint8Array, info: LocatorInfo, locator: { locatorType: string; entries: Entries }): boolean {
  let encoded: Uint8Array;
  try {
    encoded = encodeParentLocator(locator);
  } catch {
    return false;
  }
  if (encoded.length > info.itemRoom || info.itemOffset + encoded.length > bytes.length) return false;
  bytes.fill(0, info.itemOffset, Math.min(bytes.length, info.itemOffset + Math.max(info.itemLength, encoded.length)));
  bytes.set(encoded, info.itemOffset);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (info.lengthFieldOffset + 4 <= bytes.length) view.setUint32(info.lengthFieldOffset, encoded.length, true);
  return true;
}
