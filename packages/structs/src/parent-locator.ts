// MS-VHDX 2.6.2.6 Parent Locator metadata item (A8D35F2D-B30B-454D-ABF7-D3D84834AB0C),
// with the VHDX locator type of 2.6.2.6.3. Required when HasParent is set.
//
// | offset      | size         | field   | rule                                                   |
// |-------------|--------------|---------|--------------------------------------------------------|
// | 0           | 20           | header  | parent-locator-header.ts                               |
// | 20          | 12 per entry | entries | parent-locator-entry.ts; each key and value inside the item |
// | anywhere    | keyLength    | key     | UTF-16LE, no NULs, unique, case sensitive              |
// | anywhere    | valueLength  | value   | UTF-16LE, no NULs                                      |
//
// VHDX type keys: parent_linkage (required, "{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}"),
// parent_linkage2 (optional), and at least one of relative_path, volume_path,
// absolute_win32_path.
import { VHDX_PARENT_LOCATOR_TYPE_GUID } from "./constants.js";
import { VhdxError } from "./errors.js";
import { Reader, Writer, at } from "./internal/bytes.js";
import { checkReserved, violation, within } from "./internal/rules.js";
import { decodeUtf16le, writeUtf16le } from "./internal/utf16.js";
import {
  PARENT_LOCATOR_ENTRY_SIZE,
  decodeParentLocatorEntry,
  validateParentLocatorEntry,
  writeParentLocatorEntry,
  type ParentLocatorEntry,
} from "./parent-locator-entry.js";
import {
  PARENT_LOCATOR_HEADER_SIZE,
  decodeParentLocatorHeader,
  writeParentLocatorHeader,
} from "./parent-locator-header.js";
import type { Violation } from "./violation.js";

const STRUCTURE = "parent locator";

/** The path keys of the VHDX locator type, in the order a reader tries them. */
export const PARENT_PATH_KEYS: readonly string[] = ["relative_path", "volume_path", "absolute_win32_path"];
export const PARENT_LINKAGE_KEYS: readonly string[] = ["parent_linkage", "parent_linkage2"];

const LINKAGE_TEXT = /^\{[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}$/i;

export interface ParentLocatorPair {
  key: string;
  value: string;
  /** Where the key and value were found; absent for pairs not decoded from bytes. */
  entry?: ParentLocatorEntry;
}

export interface ParentLocator {
  locatorType: string;
  /** Keys and values; with a duplicated key, the first one wins (see `pairs`). */
  entries: Record<string, string>;
  /** Every pair in stored order, duplicates included. Filled in by the decoder. */
  pairs?: ParentLocatorPair[];
  reserved?: number;
}

/**
 * Decodes a whole parent locator item: `item[offset..]` is the item, exactly as
 * long as its metadata table entry says. Every key and value is checked to lie
 * inside it before it is read (OUT_OF_RANGE otherwise).
 */
export function decodeParentLocator(item: Uint8Array, offset = 0, fileOffset?: number): ParentLocator {
  const header = decodeParentLocatorHeader(item, offset, fileOffset);
  const itemLength = item.length - offset;
  const tableLength = PARENT_LOCATOR_HEADER_SIZE + header.keyValueCount * PARENT_LOCATOR_ENTRY_SIZE;
  const r = new Reader(STRUCTURE, item, offset, tableLength, fileOffset);
  const bytes = item.subarray(offset);
  const entries: Record<string, string> = {};
  const pairs: ParentLocatorPair[] = [];
  for (let i = 0; i < header.keyValueCount; i++) {
    const position = PARENT_LOCATOR_HEADER_SIZE + i * PARENT_LOCATOR_ENTRY_SIZE;
    const entry = decodeParentLocatorEntry(r.bytes, position, at(fileOffset, position));
    const key = readString(bytes, itemLength, entry.keyOffset, entry.keyLength, `entries[${i}].key`, fileOffset);
    const value = readString(
      bytes,
      itemLength,
      entry.valueOffset,
      entry.valueLength,
      `entries[${i}].value`,
      fileOffset,
    );
    pairs.push({ key, value, entry });
    if (!Object.hasOwn(entries, key)) setOwn(entries, key, value);
  }
  return { locatorType: header.locatorType, entries, pairs, reserved: header.reserved };
}

/** Lays the item out as header, entry table, then each key followed by its value. */
export function encodeParentLocator(value: ParentLocator): Uint8Array {
  if (typeof value.entries !== "object" || value.entries === null) {
    throw new TypeError(`encode ${STRUCTURE}: entries must be an object of strings`);
  }
  const pairs = Object.entries(value.entries);
  let position = PARENT_LOCATOR_HEADER_SIZE + pairs.length * PARENT_LOCATOR_ENTRY_SIZE;
  const layout = pairs.map(([key, text]) => {
    if (typeof text !== "string") {
      throw new TypeError(`encode ${STRUCTURE}: the value of ${JSON.stringify(key)} must be a string`);
    }
    const keyOffset = position;
    const valueOffset = keyOffset + key.length * 2;
    position = valueOffset + text.length * 2;
    return { key, text, entry: { keyOffset, valueOffset, keyLength: key.length * 2, valueLength: text.length * 2 } };
  });
  const w = new Writer(STRUCTURE, position);
  const header = { locatorType: value.locatorType, reserved: value.reserved ?? 0, keyValueCount: pairs.length };
  writeParentLocatorHeader(w, header);
  layout.forEach(({ key, text, entry }, i) => {
    writeParentLocatorEntry(w, PARENT_LOCATOR_HEADER_SIZE + i * PARENT_LOCATOR_ENTRY_SIZE, entry, `entries[${i}].`);
    writeUtf16le(key, w.bytes, entry.keyOffset);
    writeUtf16le(text, w.bytes, entry.valueOffset);
  });
  return w.bytes;
}

/**
 * Rules: RESERVED, each entry's OFFSET / LENGTH / ODD_LENGTH, DUPLICATE_KEY,
 * NUL_CHARACTER, UNKNOWN_LOCATOR_TYPE; for the VHDX type MISSING_PARENT_LINKAGE,
 * PARENT_LINKAGE_FORMAT, MISSING_PARENT_PATH.
 */
export function validateParentLocator(value: ParentLocator): Violation[] {
  const out: Violation[] = [];
  checkReserved(out, "reserved", (value.reserved ?? 0) === 0);
  const pairs = value.pairs ?? Object.entries(value.entries).map(([key, text]) => ({ key, value: text }));
  checkPairs(out, pairs);
  if (value.locatorType.toLowerCase() !== VHDX_PARENT_LOCATOR_TYPE_GUID) {
    const message = `locator type ${value.locatorType} is not the VHDX type ${VHDX_PARENT_LOCATOR_TYPE_GUID}`;
    out.push(violation("UNKNOWN_LOCATOR_TYPE", "UNSUPPORTED", "locatorType", message));
    return out;
  }
  checkVhdxKeys(out, value.entries);
  return out;
}

function checkPairs(out: Violation[], pairs: ParentLocatorPair[]): void {
  const seen = new Set<string>();
  pairs.forEach((pair, i) => {
    const field = `entries[${i}]`;
    if (pair.entry !== undefined) out.push(...within(field, validateParentLocatorEntry(pair.entry)));
    else if (pair.key === "" || pair.value === "")
      out.push(violation("LENGTH", "BAD_FIELD", field, "empty key or value"));
    if (seen.has(pair.key)) {
      const message = `key ${JSON.stringify(pair.key)} appears more than once`;
      out.push(violation("DUPLICATE_KEY", "BAD_FIELD", `${field}.key`, message));
    }
    seen.add(pair.key);
    for (const part of ["key", "value"] as const) {
      if (pair[part].includes("\0")) {
        const message = `${part} of ${JSON.stringify(pair.key)} holds a NUL`;
        out.push(violation("NUL_CHARACTER", "BAD_FIELD", `${field}.${part}`, message));
      }
    }
  });
}

function checkVhdxKeys(out: Violation[], entries: Record<string, string>): void {
  const has = (key: string) => Object.hasOwn(entries, key);
  if (!has("parent_linkage")) {
    out.push(violation("MISSING_PARENT_LINKAGE", "BAD_FIELD", "entries", "no parent_linkage key"));
  }
  for (const key of PARENT_LINKAGE_KEYS) {
    const text = entries[key];
    if (has(key) && text !== undefined && !LINKAGE_TEXT.test(text)) {
      const message = `${key} is ${JSON.stringify(text)}, expected {xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}`;
      out.push(violation("PARENT_LINKAGE_FORMAT", "BAD_FIELD", `entries.${key}`, message));
    }
  }
  if (!PARENT_PATH_KEYS.some(has)) {
    const message = `none of ${PARENT_PATH_KEYS.join(", ")} is present`;
    out.push(violation("MISSING_PARENT_PATH", "BAD_FIELD", "entries", message));
  }
}

function readString(
  bytes: Uint8Array,
  itemLength: number,
  start: number,
  length: number,
  field: string,
  fileOffset: number | undefined,
): string {
  if (start + length > itemLength) {
    const detail = `${field} at [${start}, ${start + length}) lies outside the ${itemLength}-byte item`;
    throw new VhdxError("OUT_OF_RANGE", detail, { structure: STRUCTURE, field, offset: fileOffset });
  }
  return decodeUtf16le(bytes, start, length);
}

/** Defines an own property, so a key such as "__proto__" stays data. */
function setOwn(target: Record<string, string>, key: string, value: string): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}
