// CRC-32C throughput of the built @vhdx/crc32c against @aws-crypto/crc32c and
// hash-wasm, at the sizes VHDX uses (64 B for small structures, 4 KiB headers
// and log sectors, 64 KiB region tables, 1 MiB blocks). `--json` for machines.
import { crc32c as awsCrc32c } from "@aws-crypto/crc32c";
import { crc32c } from "@vhdx/crc32c";
import { formatBytes, formatRate, measure, printTable, wantsJson } from "@vhdx-tools/bench-kit";
import { createCRC32 } from "hash-wasm";

const hashWasm = await createCRC32(0x82f63b78);
const hashWasmCrc32c = (data) => {
  hashWasm.init();
  hashWasm.update(data);
  const digest = hashWasm.digest("binary");
  return ((digest[0] << 24) | (digest[1] << 16) | (digest[2] << 8) | digest[3]) >>> 0;
};

const peers = [
  ["@vhdx/crc32c", crc32c],
  ["hash-wasm", hashWasmCrc32c],
  ["@aws-crypto/crc32c", awsCrc32c],
];

const sizes = [64, 4096, 65536, 1 << 20];
const results = [];
for (const size of sizes) {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (i * 131 + 7) & 255;
  const expected = crc32c(data);
  for (const [name, fn] of peers) {
    if (fn(data) !== expected) throw new Error(`${name} disagrees at ${size} bytes`);
    const { bytesPerSecond } = measure(() => fn(data), { bytesPerCall: size });
    results.push({ size, name, bytesPerSecond });
  }
}

const rate = (size, name) => results.find((r) => r.size === size && r.name === name).bytesPerSecond;
const rows = sizes.map((size) => {
  const ours = rate(size, "@vhdx/crc32c");
  return [
    formatBytes(size),
    formatRate(ours),
    formatRate(rate(size, "hash-wasm")),
    formatRate(rate(size, "@aws-crypto/crc32c")),
    `${(ours / rate(size, "hash-wasm")).toFixed(2)}x`,
    `${(ours / rate(size, "@aws-crypto/crc32c")).toFixed(1)}x`,
  ];
});

// The performance issue's targets: at 64 KiB >= 15x aws and >= 1.25x hash-wasm; at 64 B >= 1 GB/s.
const targets = [
  [
    "64 KiB: >= 1.25x hash-wasm",
    rate(65536, "@vhdx/crc32c") / rate(65536, "hash-wasm"),
    1.25,
    (v) => `${v.toFixed(2)}x`,
  ],
  [
    "64 KiB: >= 15x @aws-crypto/crc32c",
    rate(65536, "@vhdx/crc32c") / rate(65536, "@aws-crypto/crc32c"),
    15,
    (v) => `${v.toFixed(1)}x`,
  ],
  ["64 B: >= 1 GB/s", rate(64, "@vhdx/crc32c"), 1e9, formatRate],
].map(([what, value, goal, format]) => ({ what, value, goal, met: value >= goal, shown: format(value) }));

if (wantsJson()) {
  console.log(JSON.stringify({ benchmark: "crc32c", node: process.version, results, targets }, null, 2));
} else {
  console.log(
    `CRC-32C throughput (median of 9 rounds, Node ${process.version}); ratio = ours / peer, above 1 is faster`,
  );
  printTable(["size", "@vhdx/crc32c", "hash-wasm", "@aws-crypto/crc32c", "vs hash-wasm", "vs aws"], rows);
  console.log("");
  printTable(
    ["target", "measured", "met"],
    targets.map((t) => [t.what, t.shown, t.met ? "yes" : "no"]),
  );
}
