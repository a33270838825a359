// Holds an image open in a process of its own, for test/locking.test.ts:
//   node lock-holder.mjs <dist/node.js URL> <image path> <openVhdx options as JSON>
// Prints "held" once the image is open (or "refused CODE message"), and
// closes it when its stdin ends.
const [distUrl, path, optionsJson] = process.argv.slice(2);
const { openVhdx } = await import(distUrl);
let image;
try {
  image = await openVhdx(path, JSON.parse(optionsJson));
} catch (error) {
  process.stdout.write(`refused ${error.code} ${error.message}\n`);
  process.exit(2);
}
process.stdout.write("held\n");
process.stdin.resume();
process.stdin.on("end", async () => {
  await image.close();
  process.exit(0);
});
