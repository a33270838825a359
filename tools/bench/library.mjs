// The in-library side of the `open` and `read` cases, run as its own process
// so that its peak RSS is measured like a command's. Prints the time of the
// work alone as JSON on stdout: for `open`, opening and closing the image;
// for `read`, the reads (as qemu-img bench times them); never Node's start-up.
//
//   node library.mjs open FILE
//   node library.mjs read FILE COUNT STEP
//   node library.mjs read-blocking FILE COUNT STEP
//
// `read` reads COUNT blocks of 4 KiB one at a time (queue depth 1), the first
// at offset 0 and each next one STEP bytes further, modulo the virtual size:
// exactly the offsets `qemu-img bench -c COUNT -d 1 -s 4K -S STEP` reads
// (QEMU 7.2 wraps modulo the image size; QEMU since its 2025 fix modulo size
// - 4 KiB, which moves the offsets but not the pattern: scattered 4 KiB reads,
// none twice while COUNT * 4 KiB <= the size and STEP / 4 KiB is odd).
// `read-blocking` opens with blockingReadLimit: 64 KiB, so the 4 KiB reads are
// made on the main thread instead of Node's thread pool.
import { openVhdx } from "@vhdx/image/node";

const [mode, path, countText, stepText] = process.argv.slice(2);
let start = performance.now();
const image = await openVhdx(path, mode === "read-blocking" ? { blockingReadLimit: 65536 } : {});
if (mode === "read" || mode === "read-blocking") {
  start = performance.now(); // like qemu-img bench, time the reads, not the open
  const count = Number(countText);
  const step = Number(stepText);
  const size = image.virtualSize;
  const buffer = new Uint8Array(4096);
  let offset = 0;
  for (let i = 0; i < count; i++) {
    await image.readInto(buffer, offset);
    offset = (offset + step) % size;
  }
}
await image.close();
console.log(JSON.stringify({ ms: performance.now() - start }));
