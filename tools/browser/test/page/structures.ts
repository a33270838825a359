// Decode and encode the real Windows structure dumps of
// packages/structs/test/vectors with @vhdx/structs, wherever this runs (the
// page, or Node for the comparison), and report the decoded values as JSON.
import {
  decodeFileIdentifier,
  decodeHeader,
  decodeMetadataTableEntry,
  decodeMetadataTableHeader,
  decodeParentLocatorEntry,
  decodeParentLocatorHeader,
  decodeRegionTable,
  decodeRegionTableEntry,
  encodeFileIdentifier,
  encodeHeader,
  encodeMetadataTableEntry,
  encodeMetadataTableHeader,
  encodeParentLocatorEntry,
  encodeParentLocatorHeader,
  encodeRegionTable,
  encodeRegionTableEntry,
  verifyHeaderChecksum,
  verifyRegionTableChecksum,
} from "@vhdx/structs";

export interface StructureReport {
  vector: string;
  /** The decoded value as JSON (bigints as strings, byte arrays as their length and sum). */
  decoded: string;
  /** encode(decode(bytes)) equals the bytes. */
  roundTrips: boolean;
  /** The stored checksum verifies, for the structures that have one. */
  checksumValid?: boolean;
}

interface Codec {
  vector: string;
  /** Zero-pad the dump to this length first (the region table dump is cut after its entries). */
  paddedTo?: number;
  // biome-ignore lint/suspicious/noExplicitAny: each codec has its own value type
  decode(bytes: Uint8Array): any;
  // biome-ignore lint/suspicious/noExplicitAny: each codec has its own value type
  encode(value: any): Uint8Array;
  verify?(bytes: Uint8Array): boolean;
}

const CODECS: Codec[] = [
  { vector: "file_identifier.1", decode: decodeFileIdentifier, encode: encodeFileIdentifier },
  { vector: "image_header.1", decode: decodeHeader, encode: encodeHeader, verify: verifyHeaderChecksum },
  {
    vector: "region_table.1",
    paddedTo: 65536,
    decode: decodeRegionTable,
    encode: encodeRegionTable,
    verify: verifyRegionTableChecksum,
  },
  { vector: "region_table_entry.1", decode: decodeRegionTableEntry, encode: encodeRegionTableEntry },
  { vector: "metadata_table_header.1", decode: decodeMetadataTableHeader, encode: encodeMetadataTableHeader },
  { vector: "metadata_table_entry.1", decode: decodeMetadataTableEntry, encode: encodeMetadataTableEntry },
  { vector: "parent_locator_header.1", decode: decodeParentLocatorHeader, encode: encodeParentLocatorHeader },
  { vector: "parent_locator_entry.1", decode: decodeParentLocatorEntry, encode: encodeParentLocatorEntry },
];

export const STRUCTURE_VECTORS = CODECS.map((codec) => codec.vector);

function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, field: unknown) => {
    if (typeof field === "bigint") return `${field}n`;
    if (field instanceof Uint8Array) return { bytes: field.length, sum: field.reduce((sum, byte) => sum + byte, 0) };
    return field;
  });
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** Reads each vector through `load(baseUrl + name)` and round-trips it. */
export async function roundTripStructures(
  baseUrl: string,
  load: (url: string) => Promise<Uint8Array>,
): Promise<StructureReport[]> {
  const reports: StructureReport[] = [];
  for (const codec of CODECS) {
    const dump = await load(`${baseUrl}${codec.vector}`);
    const bytes = new Uint8Array(Math.max(dump.length, codec.paddedTo ?? 0));
    bytes.set(dump);
    const decoded = codec.decode(bytes);
    reports.push({
      vector: codec.vector,
      decoded: toJson(decoded),
      roundTrips: sameBytes(codec.encode(decoded), bytes),
      ...(codec.verify ? { checksumValid: codec.verify(bytes) } : {}),
    });
  }
  return reports;
}
