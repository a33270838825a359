// Files that are not what a command expects, run through the built command as
// a person would: other image formats made by qemu-img are refused by every
// command that takes raw input (unless -f raw), a VHDX with a damaged
// signature is an error and never raw, and a file that is no image at all gets
// one code on every command. Also --json errors and qemu-img's -p / -q.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, oracle, run, vhdxProcess } from "./harness.js";

const hasQemu = oracle("qemu-img");
let dir: string;

beforeAll(() => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), "vhdx-formats-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const vhdx = (args: string[]) => vhdxProcess(args, { cwd: dir });

/** What qemu-img makes, by file name: [qemu-img format, options, the name our message gives]. */
const FOREIGN: Array<[file: string, format: string, options: string[], named: string]> = [
  ["disk.qcow2", "qcow2", [], "qcow2"],
  ["disk.qcow", "qcow", [], "qcow (version 1)"],
  ["dynamic.vhd", "vpc", ["-o", "subformat=dynamic"], "VHD"],
  ["fixed.vhd", "vpc", ["-o", "subformat=fixed"], "VHD"],
  ["disk.vmdk", "vmdk", [], "VMDK"],
  ["split.vmdk", "vmdk", ["-o", "subformat=twoGbMaxExtentSparse"], "VMDK"],
  ["disk.vdi", "vdi", [], "VDI (VirtualBox)"],
  ["disk.qed", "qed", [], "QED"],
  ["disk.parallels", "parallels", [], "Parallels"],
];

describe.skipIf(!hasQemu)("other image formats are refused unless -f raw", () => {
  beforeAll(() => {
    for (const [file, format, options] of FOREIGN) {
      run("qemu-img", ["create", "-q", "-f", format, ...options, join(dir, file), "8M"]);
      // Some data, so a raw reading of the container would differ from the disk.
      run("qemu-io", ["-f", format, "-c", "write -P 0x5a 1M 64k", join(dir, file)]);
    }
  });

  for (const [file, , , named] of FOREIGN) {
    it(`${file}: convert, compare, map, cat and read refuse it, naming ${named}`, () => {
      for (const args of [
        ["convert", file, `${file}.out.vhdx`],
        ["convert", "-O", "raw", file, `${file}.out.raw`],
        ["compare", file, file],
        ["map", file],
        ["cat", file, "-o", `${file}.cat`],
        ["read", file, "--length", "4096"],
      ]) {
        const outcome = vhdx(args);
        expect(outcome.status, args.join(" ")).toBe(2);
        expect(outcome.stderr).toMatch(
          new RegExp(`^vhdx: UNSUPPORTED_FORMAT: .*${escapeRegExp(named)} image.*qemu-img.*-f raw`),
        );
        expect(outcome.stdout).toBe("");
      }
      expect(run("ls", [dir])).not.toMatch(/\.out\.|\.cat|partial/);
    });

    it(`${file}: info, check and write name the format too`, () => {
      for (const args of [
        ["info", file],
        ["check", file],
        ["write", file, "--offset", "0", file],
      ]) {
        const outcome = vhdx(args);
        expect(outcome.status, args.join(" ")).toBe(2);
        expect(outcome.stderr).toMatch(new RegExp(`UNSUPPORTED_FORMAT: .*${escapeRegExp(named)} image`));
      }
    });
  }

  it("-f raw takes a qcow2's bytes as a raw disk on purpose", () => {
    const outcome = vhdx(["convert", "-f", "raw", "-O", "raw", "disk.qcow2", "qcow2-bytes.raw"]);
    expect(outcome.status).toBe(0);
    expect(readFileSync(join(dir, "qcow2-bytes.raw")).equals(readFileSync(join(dir, "disk.qcow2")))).toBe(true);
  });
});

describe.skipIf(!hasQemu)("a VHDX whose file identifier is damaged", () => {
  it("is an error on every command, never read as raw", () => {
    const path = join(dir, "damaged.vhdx");
    run("qemu-img", ["create", "-q", "-f", "vhdx", path, "8M"]);
    const bytes = readFileSync(path);
    bytes.write("XXXXXXXX", 0, "latin1");
    writeFileSync(path, bytes);
    for (const args of [
      ["convert", "damaged.vhdx", "d.out"],
      ["compare", "damaged.vhdx", "damaged.vhdx"],
      ["map", "damaged.vhdx"],
      ["info", "damaged.vhdx"],
      ["check", "damaged.vhdx"],
    ]) {
      const outcome = vhdx(args);
      expect(outcome.status, args.join(" ")).toBe(2);
      expect(outcome.stderr, args.join(" ")).toMatch(/^vhdx: BAD_SIGNATURE: file identifier @0x0/);
    }
  });
});

describe("a file that is no disk image", () => {
  beforeAll(() => writeFileSync(join(dir, "notes.txt"), "a shopping list, not a disk\n"));

  it("gets NOT_VHDX from every command that wants a VHDX, not TRUNCATED", () => {
    for (const args of [
      ["info", "notes.txt"],
      ["check", "notes.txt"],
      ["write", "notes.txt", "--offset", "0", "notes.txt"],
      ["resize", "notes.txt", "1G"],
      ["compact", "notes.txt"],
      ["merge", "notes.txt"],
      ["info", "--json", "notes.txt"],
    ]) {
      const outcome = vhdx(args);
      expect(outcome.status, args.join(" ")).toBe(2);
      expect(outcome.stderr, args.join(" ")).toMatch(/NOT_VHDX/);
      expect(outcome.stderr).not.toMatch(/TRUNCATED|BAD_SIGNATURE/);
    }
    expect(readFileSync(join(dir, "notes.txt"), "utf8")).toBe("a shopping list, not a disk\n");
  });

  it("is raw to the commands that take raw input", () => {
    const outcome = vhdx(["read", "notes.txt", "--length", "7"]);
    expect(outcome.status).toBe(0);
    expect(outcome.stdout).toBe("a shopp");
  });
});

describe("errors for programs (--json)", () => {
  it("is one JSON object on stderr with the code, message, file and offset; stdout stays empty", () => {
    writeFileSync(join(dir, "plain.txt"), "not a disk");
    const outcome = vhdx(["info", "--json", "plain.txt"]);
    expect(outcome.status).toBe(2);
    expect(outcome.stdout).toBe("");
    const { error } = JSON.parse(outcome.stderr);
    expect(error.code).toBe("NOT_VHDX");
    expect(error.offset).toBe(0);
    expect(error.message).toContain("plain.txt");
  });

  it("names the file of an I/O error", () => {
    const outcome = vhdx(["check", "--json", "missing.vhdx"]);
    expect(outcome.status).toBe(2);
    expect(outcome.stdout).toBe("");
    const { error } = JSON.parse(outcome.stderr);
    expect(error.code).toBe("IO_ERROR");
    expect(error.file).toBe(join(dir, "missing.vhdx"));
  });

  it("covers usage errors and unknown commands", () => {
    for (const args of [
      ["info", "--json", "--bogus", "x"],
      ["frobnicate", "--json"],
    ]) {
      const outcome = vhdx(args);
      expect(outcome.status).toBe(2);
      expect(JSON.parse(outcome.stderr).error.code).toBe("INVALID_ARGUMENT");
    }
  });

  it("without --json an error stays one line", () => {
    const outcome = vhdx(["info", "missing.vhdx"]);
    expect(outcome.stderr).toMatch(/^vhdx: IO_ERROR: [^\n]*\n$/);
  });
});

describe("qemu-img's -p and -q", () => {
  beforeAll(() => {
    const bytes = Buffer.alloc(32 << 20);
    for (let i = 0; i < bytes.length; i += 4096) bytes[i] = i & 0xff;
    writeFileSync(join(dir, "data.raw"), bytes);
  });

  it("-p draws progress on a stderr that is not a terminal; without it nothing is drawn", () => {
    const shown = vhdx(["convert", "-p", "data.raw", "p.vhdx"]);
    expect(shown.status).toBe(0);
    expect(shown.stderr).toMatch(/100%/);
    const quiet = vhdx(["convert", "data.raw", "np.vhdx"]);
    expect(quiet.status).toBe(0);
    expect(quiet.stderr).toBe("");
  });

  it("-q silences compare's answer and -p with -q is refused", () => {
    const same = vhdx(["compare", "-q", "data.raw", "p.vhdx"]);
    expect(same).toMatchObject({ status: 0, stdout: "", stderr: "" });
    expect(vhdx(["convert", "-p", "-q", "data.raw", "pq.vhdx"]).status).toBe(2);
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
