// The child process of writer-memory.test.ts: opens a VHDX read-write with the
// BUILT package (dist/, through the package's self-reference), writes 4 KiB
// of 0x5a at an offset, closes it, and prints its peak resident set size and
// how long the open, write and close took, as one JSON line:
//
//   node test/write-once-child.mjs <image.vhdx> <offset>
//   {"maxRssBytes":...,"milliseconds":...}
//
// The peak is VmHWM of /proc/self/status (Linux), the high-water mark of this
// process's own memory: getrusage's maxRSS would also count the parent's
// memory, which a forked child maps until it runs node (Linux keeps that peak
// across exec).
import { readFileSync } from "node:fs";
import { openVhdx } from "@vhdx/image/node";

const [path, offset] = process.argv.slice(2);
const started = performance.now();
const image = await openVhdx(path, { readOnly: false });
await image.write(Number(offset), new Uint8Array(4096).fill(0x5a));
await image.close();
const milliseconds = performance.now() - started;
const highWaterKiB = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync("/proc/self/status", "utf8"))?.[1];
if (highWaterKiB === undefined) throw new Error("no VmHWM in /proc/self/status");
console.log(JSON.stringify({ maxRssBytes: Number(highWaterKiB) * 1024, milliseconds }));
