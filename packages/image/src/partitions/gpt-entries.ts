// GPT partition entry array (UEFI 2.10, 5.3.3): entryCount entries of
// entrySize bytes (128 * 2^n) from the header's entryArrayLba. An entry whose
// type GUID is nil is unused. Bytes past 128 in a larger entry are ignored.
//
// | offset | size | field          | rule                                            |
// |--------|------|----------------|-------------------------------------------------|
// | 0      | 16   | typeGuid       | nil: unused entry                               |
// | 16     | 16   | uniqueGuid     |                                                 |
// | 32     | 8    | firstLba       | inside the header's usable LBAs                 |
// | 40     | 8    | lastLba        | inclusive; not before firstLba                  |
// | 48     | 8    | attributes     | bit 0 required, 1 no block I/O, 2 legacy BIOS   |
// |        |      |                | bootable, 48-63 for the partition type          |
// | 56     | 72   | name           | UTF-16LE, up to 36 code units, NUL-terminated   |
import { NIL_GUID, guidFromBytes } from "@vhdx/guid";
import { VhdxError } from "@vhdx/structs";

const MIN_GPT_ENTRY_SIZE = 128;
const NAME_OFFSET = 56;
const NAME_BYTES = 72;

/** Attribute bit 2: legacy BIOS bootable. */
export const LEGACY_BIOS_BOOTABLE = 1n << 2n;

export interface GptEntry {
  /** 1-based place in the array, the number Linux and sfdisk give the partition. */
  index: number;
  typeGuid: string;
  uniqueGuid: string;
  firstLba: bigint;
  lastLba: bigint;
  attributes: bigint;
  name: string;
}

const utf16 = new TextDecoder("utf-16le");

/** The used entries of an array of `count` entries of `entrySize` bytes. */
export function decodeGptEntries(bytes: Uint8Array, count: number, entrySize: number, fileOffset?: number): GptEntry[] {
  if (entrySize < MIN_GPT_ENTRY_SIZE || count * entrySize > bytes.length) {
    throw new VhdxError("TRUNCATED", `${count} entries of ${entrySize} bytes need more than the ${bytes.length} read`, {
      structure: "GPT partition entry array",
      ...(fileOffset === undefined ? {} : { offset: fileOffset }),
    });
  }
  const entries: GptEntry[] = [];
  for (let i = 0; i < count; i++) {
    const entry = decodeGptEntry(bytes, i * entrySize, i + 1);
    if (entry !== null) entries.push(entry);
  }
  return entries;
}

/** The entry at `bytes[offset..offset+128)`, or null when it is unused. */
function decodeGptEntry(bytes: Uint8Array, offset: number, index: number): GptEntry | null {
  const typeGuid = guidFromBytes(bytes, offset);
  if (typeGuid === NIL_GUID) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, MIN_GPT_ENTRY_SIZE);
  return {
    index,
    typeGuid,
    uniqueGuid: guidFromBytes(bytes, offset + 16),
    firstLba: view.getBigUint64(32, true),
    lastLba: view.getBigUint64(40, true),
    attributes: view.getBigUint64(48, true),
    name: decodeName(bytes.subarray(offset + NAME_OFFSET, offset + NAME_OFFSET + NAME_BYTES)),
  };
}

function decodeName(field: Uint8Array): string {
  let units = 0;
  while (units < NAME_BYTES / 2 && (field[units * 2] !== 0 || field[units * 2 + 1] !== 0)) units++;
  return utf16.decode(field.subarray(0, units * 2));
}
