// GUID text <-> bytes, ours (Microsoft layout) against uuid's parse/stringify
// (RFC 4122 layout): the same amount of work, a different byte order.
import { guidFromBytes, guidToBytes, randomGuid } from "@vhdx/guid";
import { measure, printTable, wantsJson } from "@vhdx-tools/bench-kit";
import { parse, stringify } from "uuid";

const texts = Array.from({ length: 1024 }, () => randomGuid());
const bytes = texts.map((text) => guidToBytes(text));
const rfcBytes = texts.map((text) => parse(text));
let i = 0;
const cases = [
  ["bytes -> text", () => guidFromBytes(bytes[i++ & 1023]).length, () => stringify(rfcBytes[i++ & 1023]).length],
  ["text -> bytes", () => guidToBytes(texts[i++ & 1023])[0], () => parse(texts[i++ & 1023])[0]],
];
const results = cases.map(([name, ours, peer]) => ({
  name,
  ours: measure(ours).opsPerSecond,
  uuid: measure(peer).opsPerSecond,
}));
if (wantsJson()) {
  console.log(JSON.stringify({ benchmark: "guid", node: process.version, results }, null, 2));
} else {
  console.log(`GUID codecs, million operations per second (median of 9 rounds, Node ${process.version})`);
  printTable(
    ["operation", "@vhdx/guid", "uuid", "ratio"],
    results.map((r) => [
      r.name,
      (r.ours / 1e6).toFixed(2),
      (r.uuid / 1e6).toFixed(2),
      `${(r.ours / r.uuid).toFixed(2)}x`,
    ]),
  );
}
