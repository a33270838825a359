// vhdx serve: the virtual disk of an image (a differencing chain included)
// over the Network Block Device protocol, for nbd-client, QEMU, qemu-img,
// nbdcopy and nbdinfo. The protocol is in src/nbd/ (no Node APIs); here are
// the sockets, the image's lock, and the orderly stop on a signal.
import { rmSync, statSync } from "node:fs";
import { constants } from "node:os";
import { type AddressInfo, type Server, type Socket, connect, createServer } from "node:net";
import { resolve } from "node:path";
import { VhdxError } from "@vhdx/image";
import {
  CHAIN_OPTIONS,
  type Command,
  EXIT_OK,
  chainHelp,
  imageAccess,
  parseCommandArgs,
  usageError,
} from "../command.js";
import { openImageFile } from "../disk.js";
import { type CliIO, printLine, warn, writeLine } from "../io.js";
import { imageExport } from "../nbd/export.js";
import { DEFAULT_MAX_PAYLOAD, NbdServer } from "../nbd/server.js";
import { formatSize } from "../sizes.js";
import { socketStream } from "../socket-stream.js";

/** NBD's registered port. */
const NBD_PORT = 10809;
const LOOPBACK = "127.0.0.1";
const DEFAULT_SHARED = 16;
/** Reads of at most this many bytes are made with readSync (see OpenVhdxOptions.blockingReadLimit). */
const SMALL_READ = 1024 * 1024;

const HELP = `Usage: vhdx serve [--read-only] [--socket PATH | [--port N] [--bind ADDR]]
                  [--export-name NAME] [--shared N] [--json] FILE

Serves the virtual disk of the image FILE over the Network Block Device
protocol (NBD, fixed newstyle, structured replies, base:allocation), so that
Linux can attach it as a block device (nbd-client), QEMU can boot from it,
and qemu-img, nbdcopy and nbdinfo can read it. A differencing image is served
with its chain of parents, and 4 KiB-sector images too: both are what QEMU
and the kernel cannot open themselves.

Writes (with FUA), flushes, trims and zero writes go through the image's
writer and its log, as "vhdx write" does; --read-only refuses them. The
image stays locked while it is served (exclusively, or shared with other
readers under --read-only). Several clients may connect at once; they share
one image, so a flush on one connection covers the writes of all of them.

By default the server listens on ${LOOPBACK} port ${NBD_PORT}; --socket listens on
a Unix socket instead, and --bind is the only way to listen on another
address (NBD has no authentication: anyone who reaches the port can write
the disk). When it listens, vhdx serve prints where (with --json, one line
of JSON with "uri"). Ctrl-C, SIGTERM or SIGHUP stop it: no new clients, the
requests in flight are answered, the image is flushed and closed, the socket
file is removed, and the exit status is 0. A second signal exits at once.

Options:
  -r, --read-only      serve the disk read-only
  -k, --socket PATH    listen on a Unix socket at PATH
  --port N             listen on TCP port N (default ${NBD_PORT}; 0 picks a free one)
  -b, --bind ADDR      listen on ADDR (default ${LOOPBACK})
  -x, --export-name NAME
                       the export's name (default ""); "" is always accepted too
  --shared N           clients served at once (default ${DEFAULT_SHARED}); more are turned away
  --json               print where it listens as one line of JSON
${chainHelp(23)}

Examples:
  vhdx serve --socket /tmp/disk.sock disk.vhdx
  sudo modprobe nbd && sudo nbd-client -unix /tmp/disk.sock /dev/nbd0 && sudo mount /dev/nbd0p1 /mnt
  vhdx serve --read-only --socket /tmp/vm.sock checkpoint.avhdx &
    qemu-system-x86_64 -m 2G -drive file=nbd+unix:///?socket=/tmp/vm.sock,format=raw,snapshot=on
  vhdx serve --read-only disk.vhdx & nbdcopy nbd://127.0.0.1 disk.raw
  nbdinfo --map nbd+unix:///?socket=/tmp/disk.sock`;

const OPTIONS = {
  "read-only": { type: "boolean", short: "r" },
  socket: { type: "string", short: "k" },
  port: { type: "string" },
  bind: { type: "string", short: "b" },
  "export-name": { type: "string", short: "x" },
  shared: { type: "string" },
  json: { type: "boolean" },
  ...CHAIN_OPTIONS,
} as const;

type Listen = { socket: string } | { host: string; port: number };

export const serve: Command = {
  name: "serve",
  help: HELP,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs("serve", args, OPTIONS, { min: 1, max: 1 });
    const listen = listenChoice(values, io);
    const shared = values.shared === undefined ? DEFAULT_SHARED : positiveInteger(values.shared, "--shared");
    const path = resolve(io.cwd, positionals[0] as string);
    const readOnly = values["read-only"] === true;
    // Reads up to SMALL_READ on the main thread (readSync): from the page cache that beats a round trip
    // through Node's thread pool (which doubled a 4 KiB request's time); a read from disk holds up the
    // other connections meanwhile.
    const image = await openImageFile(path, io, imageAccess(values), { readOnly, blockingReadLimit: SMALL_READ });
    const name = values["export-name"] ?? "";
    const server = new NbdServer(imageExport(image, { name, description: path }), {
      maxConnections: shared,
      maxPayload: DEFAULT_MAX_PAYLOAD,
    });
    const net = createServer({ noDelay: true }, (socket) => accept(server, socket));
    try {
      if ("socket" in listen) await removeStaleSocket(listen.socket);
      await listenOn(net, listen);
    } catch (error) {
      await image.close();
      throw listenError(listen, error);
    }
    // Past listening, a failure of the listener (EMFILE on accept) is reported, not fatal: the clients connected go on.
    net.on("error", (error) => warn(io, `serve: ${error.message}`));
    const where = describe(net, listen, name);
    if (values.json) printLine(io, JSON.stringify({ file: path, size: image.virtualSize, readOnly, ...where }));
    else
      writeLine(
        io.stdout,
        `serving ${path} (${formatSize(image.virtualSize)}, ${readOnly ? "read-only" : "read-write"}) at ${where.uri}`,
      );
    const signals = untilSignal(io, listen);
    const signal = await signals.received;
    try {
      net.close();
      await server.stop();
      await image.close();
      if ("socket" in listen) rmSync(listen.socket, { force: true });
    } finally {
      signals.remove();
    }
    if (!values.json)
      writeLine(
        io.stderr,
        `vhdx serve: ${signal}: stopped after ${server.sessions} client(s); ${path} flushed and closed`,
      );
    return EXIT_OK;
  },
};

function accept(server: NbdServer, socket: Socket): void {
  socket.on("error", () => {
    // Reported to the stream (socket-stream.ts); without a listener Node would throw it.
  });
  void server.serve(socketStream(socket));
}

function listenChoice(values: { socket?: string; port?: string; bind?: string }, io: CliIO): Listen {
  if (values.socket !== undefined) {
    if (values.port !== undefined || values.bind !== undefined)
      throw usageError("serve", "--socket listens on a Unix socket: give it without --port and --bind");
    return { socket: resolve(io.cwd, values.socket) };
  }
  const port = values.port === undefined ? NBD_PORT : portNumber(values.port);
  return { host: values.bind ?? LOOPBACK, port };
}

function portNumber(text: string): number {
  const port = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!(port >= 0 && port <= 65535)) throw usageError("serve", `--port takes 0 to 65535, not ${JSON.stringify(text)}`);
  return port;
}

function positiveInteger(text: string, option: string): number {
  const value = /^\d+$/.test(text) ? Number(text) : 0;
  if (!(value >= 1 && value <= 1024))
    throw usageError("serve", `${option} takes 1 to 1024, not ${JSON.stringify(text)}`);
  return value;
}

/** A socket file left by a server that was killed is removed; one a live server listens on is not. */
async function removeStaleSocket(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = statSync(path).isSocket();
  } catch {
    return;
  }
  if (!isSocket)
    throw new VhdxError("INVALID_ARGUMENT", `serve: ${path} exists and is not a socket; choose another --socket`);
  const live = await new Promise<boolean>((done) => {
    const probe = connect(path);
    probe.once("connect", () => {
      probe.destroy();
      done(true);
    });
    probe.once("error", () => done(false));
  });
  if (live) throw new VhdxError("LOCKED", `serve: a server already listens on ${path}`);
  rmSync(path, { force: true });
}

function listenOn(net: Server, listen: Listen): Promise<void> {
  return new Promise((done, fail) => {
    net.once("error", fail);
    const listening = () => {
      net.removeListener("error", fail);
      done();
    };
    if ("socket" in listen) net.listen(listen.socket, listening);
    else net.listen(listen.port, listen.host, listening);
  });
}

function listenError(listen: Listen, error: unknown): unknown {
  if (VhdxError.isInstance(error)) return error;
  const where = "socket" in listen ? listen.socket : `${listen.host}:${listen.port}`;
  const message = error instanceof Error ? error.message : String(error);
  return new VhdxError("IO_ERROR", `serve: cannot listen on ${where}: ${message}`, { cause: error });
}

/** Where the server listens, as a URI (qemu and libnbd take it) and its parts. */
function describe(
  net: Server,
  listen: Listen,
  name: string,
): { uri: string; socket?: string; host?: string; port?: number } {
  const path = encodeURIComponent(name);
  if ("socket" in listen) return { uri: `nbd+unix:///${path}?socket=${listen.socket}`, socket: listen.socket };
  const { address, port } = net.address() as AddressInfo;
  const host = address.includes(":") ? `[${address}]` : address;
  return { uri: `nbd://${host}:${port}/${path}`, host: address, port };
}

const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/**
 * `received` resolves with the first SIGINT, SIGTERM or SIGHUP. A second
 * one exits at once (status 128 + its number) after removing the socket
 * file: what is left is what a crash leaves, which the image's log makes
 * safe. `remove` takes the handlers away.
 */
function untilSignal(io: CliIO, listen: Listen): { received: Promise<string>; remove(): void } {
  let first: ((name: string) => void) | null = null;
  const received = new Promise<string>((done) => {
    first = done;
  });
  let seen = false;
  const handler = (name: (typeof SIGNALS)[number]) => {
    if (seen) {
      if ("socket" in listen) rmSync(listen.socket, { force: true });
      writeLine(io.stderr, `vhdx serve: ${name} again: exiting at once`);
      process.exit(128 + constants.signals[name]);
    }
    seen = true;
    if (!io.json)
      writeLine(io.stderr, `vhdx serve: ${name}: finishing the requests in flight; a second signal exits at once`);
    first?.(name);
  };
  const removers = SIGNALS.map((name) => {
    const listener = () => handler(name);
    process.on(name, listener);
    return () => process.removeListener(name, listener);
  });
  return {
    received,
    remove: () => {
      for (const remove of removers) remove();
    },
  };
}
