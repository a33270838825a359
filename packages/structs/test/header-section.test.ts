// The README example, in memory: a 1 MiB header section assembled from the
// real Windows structures at their offsets, decoded the way a reader would.
import { describe, expect, it } from "vitest";
import {
  BAT_REGION_GUID,
  FILE_IDENTIFIER_OFFSET,
  HEADER_1_OFFSET,
  HEADER_2_OFFSET,
  HEADER_SECTION_SIZE,
  METADATA_REGION_GUID,
  REGION_TABLE_1_OFFSET,
  REGION_TABLE_2_OFFSET,
  assertValid,
  decodeFileIdentifier,
  decodeHeader,
  decodeRegionTable,
  validateFileIdentifier,
  validateHeader,
  validateRegionTable,
  verifyHeaderChecksum,
  verifyRegionTableChecksum,
} from "../src/index.js";
import { expectVhdxError, vector } from "./helpers.js";

function headerSection(): Uint8Array {
  const head = new Uint8Array(HEADER_SECTION_SIZE);
  head.set(vector("file_identifier.1"), FILE_IDENTIFIER_OFFSET);
  head.set(vector("image_header.1"), HEADER_1_OFFSET);
  head.set(vector("image_header.1"), HEADER_2_OFFSET);
  head.set(vector("region_table.1"), REGION_TABLE_1_OFFSET);
  head.set(vector("region_table.1"), REGION_TABLE_2_OFFSET);
  return head;
}

describe("a header section built from the real structures", () => {
  it("decodes the identifier, both headers and both region tables in place", () => {
    const head = headerSection();
    expect(validateFileIdentifier(decodeFileIdentifier(head))).toEqual([]);
    for (const at of [HEADER_1_OFFSET, HEADER_2_OFFSET]) {
      const header = decodeHeader(head, at, at);
      expect(verifyHeaderChecksum(head, at)).toBe(true);
      expect(() => assertValid(validateHeader(header), { structure: "header", offset: at })).not.toThrow();
      expect(header.sequenceNumber).toBe(6n);
      expect(header.logOffset).toBe(1048576);
    }
    for (const at of [REGION_TABLE_1_OFFSET, REGION_TABLE_2_OFFSET]) {
      const table = decodeRegionTable(head, at, at);
      expect(verifyRegionTableChecksum(head, at)).toBe(true);
      expect(validateRegionTable(table, { log: { offset: 1048576, length: 1048576 } })).toEqual([]);
      expect(table.entries.map((e) => [e.guid, e.fileOffset])).toEqual([
        [BAT_REGION_GUID, 3145728],
        [METADATA_REGION_GUID, 2097152],
      ]);
    }
  });

  it("a torn header 2 fails its checksum and names its offset", () => {
    const head = headerSection();
    head[HEADER_2_OFFSET + 30] = head[HEADER_2_OFFSET + 30]! ^ 0xff;
    expect(verifyHeaderChecksum(head, HEADER_2_OFFSET)).toBe(false);
    const error = expectVhdxError(
      () =>
        assertValid(validateHeader(decodeHeader(head, HEADER_2_OFFSET)), {
          structure: "header 2",
          offset: HEADER_2_OFFSET,
        }),
      "CHECKSUM_MISMATCH",
    );
    expect(error.message).toMatch(/^header 2 @0x20000: checksum is 0x9f69b235, the contents give 0x[0-9a-f]{8}$/);
  });
});
