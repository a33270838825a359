// Decoding and validating a structure costs at least one CRC-32C pass over its
// bytes (the checksum); this shows how close to that floor each codec gets.
import { crc32c } from "@vhdx/crc32c";
import {
  BAT_REGION_GUID,
  METADATA_REGION_GUID,
  decodeHeader,
  decodeRegionTable,
  encodeHeader,
  encodeRegionTable,
  validateRegionTable,
  verifyHeaderChecksum,
} from "@vhdx/structs";
import { measure, printTable, wantsJson } from "@vhdx-tools/bench-kit";

const header = encodeHeader({
  sequenceNumber: 7n,
  fileWriteGuid: "a3cccdd4-e8ce-4321-9243-cdaa37d5a0e2",
  dataWriteGuid: "0ffbcd55-1320-498f-9c15-1a97335aafcd",
  logGuid: "00000000-0000-0000-0000-000000000000",
  logVersion: 0,
  version: 1,
  logLength: 1 << 20,
  logOffset: 1 << 20,
});
const regionTable = encodeRegionTable({
  entries: [
    { guid: BAT_REGION_GUID, fileOffset: 3 << 20, length: 1 << 20, required: true },
    { guid: METADATA_REGION_GUID, fileOffset: 2 << 20, length: 1 << 20, required: true },
  ],
});

const cases = [
  [
    "header: decode + verify checksum",
    header,
    () => decodeHeader(header).version + Number(verifyHeaderChecksum(header)),
  ],
  ["region table: decode + validate", regionTable, () => validateRegionTable(decodeRegionTable(regionTable)).length],
];
const results = cases.map(([name, bytes, run]) => ({
  name,
  bytes: bytes.length,
  codec: measure(run, { bytesPerCall: bytes.length }).opsPerSecond,
  crcFloor: measure(() => crc32c(bytes), { bytesPerCall: bytes.length }).opsPerSecond,
}));
if (wantsJson()) {
  console.log(JSON.stringify({ benchmark: "structs", node: process.version, results }, null, 2));
} else {
  console.log(`@vhdx/structs codecs, thousand operations per second (median of 9 rounds, Node ${process.version})`);
  console.log("ratio = codec time / one CRC-32C pass over the same bytes (1.0 is the floor)");
  printTable(
    ["operation", "bytes", "codec", "CRC-32C alone", "ratio"],
    results.map((r) => [
      r.name,
      r.bytes,
      (r.codec / 1e3).toFixed(1),
      (r.crcFloor / 1e3).toFixed(1),
      `${(r.crcFloor / r.codec).toFixed(2)}x`,
    ]),
  );
}
