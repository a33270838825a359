// Reading a fully allocated 64 MiB dynamic image from memory: sequential 1 MiB
// reads and random 4 KiB reads through @vhdx/image, against the floor of
// copying the same amount of bytes out of a Uint8Array. The ratio is what the
// image layer costs on top of the copy it cannot avoid.
import { MemorySource, openImage } from "@vhdx/image";
import {
  BAT_REGION_GUID,
  FILE_PARAMETERS_GUID,
  LOGICAL_SECTOR_SIZE_GUID,
  METADATA_REGION_GUID,
  PHYSICAL_SECTOR_SIZE_GUID,
  VIRTUAL_DISK_ID_GUID,
  VIRTUAL_DISK_SIZE_GUID,
  encodeFileIdentifier,
  encodeFileParameters,
  encodeHeader,
  encodeLogicalSectorSize,
  encodeMetadataTable,
  encodePhysicalSectorSize,
  encodeRegionTable,
  encodeVirtualDiskId,
  encodeVirtualDiskSize,
} from "@vhdx/structs";
import { formatRate, measure, printTable, wantsJson } from "@vhdx-tools/bench-kit";

const MiB = 1 << 20;
const blocks = 64;
const file = buildImage(blocks);
const image = await openImage(new MemorySource(file));
const payload = file.subarray(4 * MiB);
const target = new Uint8Array(MiB);
const small = new Uint8Array(4096);
let next = 0;
const randomOffset = () => ((next = (Math.imul(next, 1664525) + 1013904223) >>> 0) % (blocks * 256)) * 4096;

const cases = [
  [
    "sequential 1 MiB reads",
    MiB,
    () => image.readInto(target, (next++ % blocks) * MiB),
    () => {
      const o = (next++ % blocks) * MiB;
      target.set(payload.subarray(o, o + MiB));
    },
  ],
  [
    "random 4 KiB reads",
    4096,
    () => image.readInto(small, randomOffset()),
    () => {
      const o = randomOffset();
      small.set(payload.subarray(o, o + 4096));
    },
  ],
];
const results = [];
for (const [name, bytes, ours, floor] of cases) {
  const rounds = 2000;
  const start = performance.now();
  for (let i = 0; i < rounds; i++) await ours();
  const oursRate = (bytes * rounds * 1000) / (performance.now() - start);
  const floorRate = measure(floor, { bytesPerCall: bytes }).bytesPerSecond;
  results.push({ name, bytesPerSecond: oursRate, copyFloor: floorRate });
}
if (wantsJson()) {
  console.log(JSON.stringify({ benchmark: "image-read", node: process.version, results }, null, 2));
} else {
  console.log(
    `@vhdx/image reads from memory (Node ${process.version}); ratio = copy floor / ours (time per byte, 1.0 is the floor)`,
  );
  printTable(
    ["operation", "@vhdx/image", "plain copy", "ratio"],
    results.map((r) => [
      r.name,
      formatRate(r.bytesPerSecond),
      formatRate(r.copyFloor),
      `${(r.copyFloor / r.bytesPerSecond).toFixed(2)}x`,
    ]),
  );
}

/** A fully allocated dynamic image: header section, metadata at 1 MiB, BAT at 2 MiB, blocks from 4 MiB. */
function buildImage(blockCount) {
  const bytes = new Uint8Array(4 * MiB + blockCount * MiB);
  for (let i = 4 * MiB; i < bytes.length; i += 4096) bytes[i] = i / 4096;
  bytes.set(encodeFileIdentifier({ creator: "bench" }), 0);
  const header = encodeHeader({
    sequenceNumber: 1n,
    fileWriteGuid: "00000000-0000-4000-8000-000000000001",
    dataWriteGuid: "00000000-0000-4000-8000-000000000002",
    logGuid: "00000000-0000-0000-0000-000000000000",
    logVersion: 0,
    version: 1,
    logLength: MiB,
    logOffset: 3 * MiB,
  });
  bytes.set(header, 0x10000);
  const regions = encodeRegionTable({
    entries: [
      { guid: METADATA_REGION_GUID, fileOffset: MiB, length: MiB, required: true },
      { guid: BAT_REGION_GUID, fileOffset: 2 * MiB, length: MiB, required: true },
    ],
  });
  bytes.set(regions, 0x30000);
  bytes.set(regions, 0x40000);
  const items = [
    [
      FILE_PARAMETERS_GUID,
      false,
      encodeFileParameters({ blockSize: MiB, leaveBlockAllocated: false, hasParent: false }),
    ],
    [VIRTUAL_DISK_SIZE_GUID, true, encodeVirtualDiskSize(blockCount * MiB)],
    [VIRTUAL_DISK_ID_GUID, true, encodeVirtualDiskId("00000000-0000-4000-8000-000000000003")],
    [LOGICAL_SECTOR_SIZE_GUID, true, encodeLogicalSectorSize(512)],
    [PHYSICAL_SECTOR_SIZE_GUID, true, encodePhysicalSectorSize(4096)],
  ];
  const entries = items.map(([itemId, isVirtualDisk, data], i) => {
    bytes.set(data, MiB + 0x10000 + i * 4096);
    return { itemId, offset: 0x10000 + i * 4096, length: data.length, isUser: false, isVirtualDisk, isRequired: true };
  });
  bytes.set(encodeMetadataTable({ entries }), MiB);
  const bat = new DataView(bytes.buffer, 2 * MiB, MiB);
  for (let block = 0; block < blockCount; block++) bat.setUint32(block * 8, ((4 + block) << 20) | 6, true);
  return bytes;
}
