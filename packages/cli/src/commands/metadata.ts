// vhdx metadata: list, read, set and remove an image's user metadata items
// (MS-VHDX 2.6.1.2, IsUser). Changes go through the log.
import { open, stat, writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import {
  VhdxError,
  type VhdxImage,
  getUserMetadata,
  listUserMetadata,
  removeUserMetadata,
  setUserMetadata,
} from "@vhdx/image";
import { openVhdx } from "@vhdx/image/node";
import {
  type Command,
  EXIT_OK,
  READ_ACCESS_OPTIONS,
  imageAccess,
  parseCommandArgs,
  readAccessHelp,
  usageError,
} from "../command.js";
import { openImageFile } from "../disk.js";
import { refuseTerminal } from "../guards.js";
import { announceOnSignal, runInterruptible } from "../interrupt.js";
import { type CliIO, printLine, writeChunk, writeJson } from "../io.js";
import { writeOutput } from "../output-file.js";

const HELP = `Usage: vhdx metadata [--json] FILE
       vhdx metadata FILE --get GUID [-o OUT] [--json]
       vhdx metadata FILE --set GUID=@IN [--virtual-disk] [--json]
       vhdx metadata FILE --remove GUID [--json]

User metadata items are values of your own kept in a VHDX file's metadata
region, each under a GUID of your choosing (Hyper-V keeps some there too).
With no option, lists them: GUID, length and flags. --get writes an item's
bytes to stdout (not to a terminal) or to OUT, made all or nothing. --set
creates or replaces an item with the bytes of the file IN (@- reads stdin);
--remove removes one. Changes go through the log, so a crash leaves the
items as they were before or after it; they change neither the disk's data
nor its DataWriteGuid, so the image's differencing children stay linked.

Limits (MS-VHDX): at most 1024 user items, each at most 1 MiB, and the
metadata region (1 MiB in files vhdx and Hyper-V make) must have room:
OUT_OF_RANGE otherwise. A system item's GUID is refused (INVALID_ARGUMENT).
Items are never marked IsRequired: a reader must refuse a file with a
required item it does not know, so nothing could open the disk. A missing
item is MISSING_METADATA for --get and --remove.

Options:
  --get GUID            write the item's bytes to stdout, or to OUT
  -o, --output OUT      with --get: the file to write (created or replaced)
  --set GUID=@IN        create or replace the item with the bytes of IN
  --virtual-disk        with --set: mark the item IsVirtualDisk (it describes
                        the virtual disk, not this file); default: as the item
                        being replaced is marked, else not
  --remove GUID         remove the item
  --json                the list, or what was done, as JSON (--get: the bytes
                        in base64)
${readAccessHelp(24)}

Examples:
  vhdx metadata disk.vhdx
  vhdx metadata disk.vhdx --set 6f1c3e02-8a4b-4c1d-9e57-2b0d4f6a7c11=@label.txt
  G=6f1c3e02-8a4b-4c1d-9e57-2b0d4f6a7c11
  echo -n blue | vhdx metadata disk.vhdx --set $G=@-
  vhdx metadata disk.vhdx --get $G -o label.txt
  vhdx metadata --json disk.vhdx --get $G | jq -r .base64 | base64 -d
  vhdx metadata disk.vhdx --remove $G`;

const OPTIONS = {
  get: { type: "string" },
  output: { type: "string", short: "o" },
  set: { type: "string" },
  "virtual-disk": { type: "boolean" },
  remove: { type: "string" },
  json: { type: "boolean" },
  ...READ_ACCESS_OPTIONS,
} as const;

/** Largest item the spec allows: 1 MiB. */
const MAX_ITEM = 1 << 20;

export const metadata: Command = {
  name: "metadata",
  help: HELP,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs("metadata", args, OPTIONS, { min: 1, max: 1 });
    const actions = (["get", "set", "remove"] as const).filter((name) => values[name] !== undefined);
    if (actions.length > 1) throw usageError("metadata", "--get, --set and --remove exclude each other");
    if (values.output !== undefined && values.get === undefined) throw usageError("metadata", "-o goes with --get");
    if (values["virtual-disk"] && values.set === undefined)
      throw usageError("metadata", "--virtual-disk goes with --set");
    const path = resolve(io.cwd, positionals[0]!);
    const json = values.json === true;
    if (values.set !== undefined) {
      const { itemId, data } = await parseSet(values.set, io);
      const isVirtualDisk = values["virtual-disk"] === true ? { isVirtualDisk: true } : {};
      return editing(io, path, values, async (image) => {
        await setUserMetadata(image, itemId, data, isVirtualDisk);
        const line = `set user item ${itemId} (${data.length} bytes) in ${path}`;
        return () => report(io, json, { file: path, set: itemId, length: data.length }, line);
      });
    }
    if (values.remove !== undefined) {
      const itemId = values.remove;
      return editing(io, path, values, async (image) => {
        if (!(await removeUserMetadata(image, itemId))) throw missing(itemId, path);
        return () => report(io, json, { file: path, removed: itemId }, `removed user item ${itemId} from ${path}`);
      });
    }
    const image = await openImageFile(path, io, imageAccess(values), { requireParent: false });
    try {
      if (values.get !== undefined) await getItem(io, image, values.get, values.output, json, path);
      else listItems(io, path, await listUserMetadata(image), json);
    } finally {
      await image.close();
    }
    return EXIT_OK;
  },
};

/** `GUID=@IN`: the GUID and the bytes of IN (or stdin for @-), refusing more than 1 MiB before reading it all. */
async function parseSet(text: string, io: CliIO): Promise<{ itemId: string; data: Uint8Array }> {
  const match = /^([^=]+)=@(.+)$/.exec(text);
  if (match === null)
    throw usageError("metadata", `--set takes GUID=@FILE (or GUID=@- for stdin), got ${JSON.stringify(text)}`);
  const [, itemId, file] = match as unknown as [string, string, string];
  const data = file === "-" ? await readStdin(io) : await readSmallFile(resolve(io.cwd, file));
  return { itemId, data };
}

async function readSmallFile(path: string): Promise<Uint8Array> {
  const size = (
    await stat(path).catch((error: NodeJS.ErrnoException) => {
      throw new VhdxError("IO_ERROR", `cannot read ${path}: ${error.message}`, { cause: error });
    })
  ).size;
  if (size > MAX_ITEM) throw tooLarge(`${path} is ${size} bytes`);
  const handle = await open(path, "r");
  try {
    return new Uint8Array(await handle.readFile());
  } finally {
    await handle.close();
  }
}

async function readStdin(io: CliIO): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of io.stdin) {
    const bytes = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer);
    length += bytes.length;
    if (length > MAX_ITEM) throw tooLarge("stdin holds more than 1 MiB");
    chunks.push(bytes);
  }
  return new Uint8Array(Buffer.concat(chunks));
}

function tooLarge(what: string): VhdxError {
  return new VhdxError("OUT_OF_RANGE", `${what}; a metadata item holds at most 1 MiB`);
}

function missing(itemId: string, path: string): VhdxError {
  return new VhdxError("MISSING_METADATA", `${path} has no user metadata item ${itemId}`);
}

/**
 * Opens the image read-write, runs `edit`, closes it, then prints what the
 * edit returns. A signal waits for the edit (it takes moments).
 */
function editing(
  io: CliIO,
  path: string,
  values: { "confine-parents"?: boolean },
  edit: (image: VhdxImage) => Promise<() => void>,
): Promise<number> {
  return runInterruptible(io, async (interrupts) => {
    announceOnSignal(io, interrupts, "finishing the metadata change first");
    const allowParentOutsideTree = values["confine-parents"] !== true;
    const image = await openVhdx(path, { readOnly: false, allowParentOutsideTree });
    let print: () => void;
    try {
      print = await edit(image);
    } finally {
      await image.close();
    }
    interrupts.report(() => `the metadata change of ${path} was finished first`);
    interrupts.signal.throwIfAborted();
    print();
    return EXIT_OK;
  });
}

async function getItem(
  io: CliIO,
  image: VhdxImage,
  itemId: string,
  output: string | undefined,
  json: boolean,
  path: string,
): Promise<void> {
  const data = await getUserMetadata(image, itemId);
  if (data === null) throw missing(itemId, path);
  if (output !== undefined && output !== "-") {
    const out = resolve(io.cwd, output);
    await runInterruptible(io, (interrupts) =>
      writeOutput(out, { replace: true, interrupts, label: "-o", command: "metadata" }, (temporary) =>
        writeFile(temporary, data),
      ),
    );
    if (json) writeJson(io, { file: path, itemId, length: data.length, output: out });
    return;
  }
  if (json) {
    writeJson(io, { file: path, itemId, length: data.length, base64: Buffer.from(data).toString("base64") });
    return;
  }
  refuseTerminal(io, "metadata");
  await writeChunk(io.stdout, data);
}

function listItems(io: CliIO, path: string, items: Awaited<ReturnType<typeof listUserMetadata>>, json: boolean): void {
  if (json) {
    writeJson(io, { file: path, items });
    return;
  }
  if (items.length === 0) {
    printLine(io, `${path} has no user metadata items`);
    return;
  }
  for (const item of items) {
    const flags = [item.isVirtualDisk && "virtual-disk", item.isRequired && "required"].filter(Boolean).join(",");
    printLine(io, `${item.itemId}  ${String(item.length).padStart(7)} bytes${flags ? `  ${flags}` : ""}`);
  }
}

function report(io: CliIO, json: boolean, value: Record<string, unknown>, line: string): void {
  if (json) writeJson(io, value);
  else printLine(io, line);
}
