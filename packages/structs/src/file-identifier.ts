// MS-VHDX 2.2.1 File Type Identifier, at file offset 0. Only its first 520
// bytes are this structure; the rest of the first 64 KiB is reserved.
//
// | offset | size | field     | rule                                                        |
// |--------|------|-----------|-------------------------------------------------------------|
// | 0      | 8    | signature | "vhdxfile"                                                  |
// | 8      | 512  | creator   | UTF-16LE, NUL-terminated when shorter; diagnostic only      |
import { FILE_IDENTIFIER_SIGNATURE } from "./constants.js";
import { VhdxError } from "./errors.js";
import { Reader, Writer, isAllZero } from "./internal/bytes.js";
import { checkSignature } from "./internal/rules.js";
import { decodeUtf16le, utf16UnitsBeforeNul, writeUtf16le } from "./internal/utf16.js";
import type { Violation } from "./violation.js";

export const FILE_IDENTIFIER_SIZE = 520;
const CREATOR_OFFSET = 8;
const CREATOR_SIZE = 512;
const STRUCTURE = "file identifier";

export interface FileIdentifier {
  signature: string;
  /** The creator text up to the first NUL. */
  creator: string;
  /** The creator field's bytes after the text, kept only when not all zero. */
  creatorPadding?: Uint8Array;
}

export type FileIdentifierInit = Partial<Pick<FileIdentifier, "signature" | "creatorPadding">> &
  Pick<FileIdentifier, "creator">;

export function decodeFileIdentifier(bytes: Uint8Array, offset = 0, fileOffset?: number): FileIdentifier {
  const r = new Reader(STRUCTURE, bytes, offset, FILE_IDENTIFIER_SIZE, fileOffset);
  const units = utf16UnitsBeforeNul(r.bytes, CREATOR_OFFSET, CREATOR_SIZE);
  const value: FileIdentifier = {
    signature: r.ascii(0, 8),
    creator: decodeUtf16le(r.bytes, CREATOR_OFFSET, units * 2),
  };
  const padding = r.copy(CREATOR_OFFSET + units * 2, CREATOR_SIZE - units * 2);
  if (!isAllZero(padding)) value.creatorPadding = padding;
  return value;
}

/** The 520 bytes; the caller leaves the rest of the 64 KiB zero. */
export function encodeFileIdentifier(value: FileIdentifierInit): Uint8Array {
  const w = new Writer(STRUCTURE, FILE_IDENTIFIER_SIZE);
  w.ascii(0, value.signature ?? FILE_IDENTIFIER_SIGNATURE, 8, "signature");
  if (typeof value.creator !== "string") throw new TypeError(`encode ${STRUCTURE}: creator must be a string`);
  if (value.creator.length * 2 > CREATOR_SIZE) {
    const detail = `creator is ${value.creator.length} UTF-16 code units, at most ${CREATOR_SIZE / 2} fit`;
    throw new VhdxError("OUT_OF_RANGE", detail, { structure: STRUCTURE, field: "creator" });
  }
  writeUtf16le(value.creator, w.bytes, CREATOR_OFFSET);
  if (value.creatorPadding !== undefined) {
    w.upTo(CREATOR_OFFSET + value.creator.length * 2, FILE_IDENTIFIER_SIZE, value.creatorPadding, "creatorPadding");
  }
  return w.bytes;
}

/** Rules: SIGNATURE. */
export function validateFileIdentifier(value: FileIdentifier): Violation[] {
  const out: Violation[] = [];
  checkSignature(out, value.signature, FILE_IDENTIFIER_SIGNATURE);
  return out;
}
