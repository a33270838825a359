// vhdx metadata, run as a user runs it (the built command in a subprocess):
// list, set from a file and from stdin, get to stdout and to a file, remove,
// the refusals with their codes and exit statuses; qemu-img checks the file
// after each change; convert carries the items into a VHDX output.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, expectClean, oracle, run, vhdxProcess } from "./harness.js";

const hasQemu = oracle("qemu-img");
const LABEL = "6f1c3e02-8a4b-4c1d-9e57-2b0d4f6a7c11";
const COLOUR = "7f1c3e02-8a4b-4c1d-9e57-2b0d4f6a7c11";
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "vhdx-cli-metadata-"));
  ensureBuilt();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const qemuClean = (file: string) => expect(run("qemu-img", ["check", file])).toMatch(/No errors were found/);

describe.skipIf(!hasQemu)("vhdx metadata", () => {
  it("sets, lists, gets and removes user items; qemu-img accepts the file after each change", () => {
    const file = join(dir, "disk.vhdx");
    run("qemu-img", ["create", "-q", "-f", "vhdx", "-o", "block_size=1M", file, "32M"]);
    expect(vhdxProcess(["metadata", file]).stdout).toMatch(/has no user metadata items/);

    const label = join(dir, "label.bin");
    writeFileSync(label, Buffer.from([0, 1, 2, 250, 251, 252]));
    expectClean(vhdxProcess(["metadata", file, "--set", `${LABEL}=@${label}`]));
    qemuClean(file);
    const set = vhdxProcess(["metadata", "--json", file, "--set", `${COLOUR}=@-`, "--virtual-disk"], {
      input: Buffer.from("blue"),
    });
    expectClean(set);
    expect(JSON.parse(set.stdout)).toEqual({ file, set: COLOUR, length: 4 });
    qemuClean(file);

    const listed = vhdxProcess(["metadata", "--json", file]);
    expect(JSON.parse(listed.stdout).items).toEqual([
      { itemId: LABEL, length: 6, isVirtualDisk: false, isRequired: false },
      { itemId: COLOUR, length: 4, isVirtualDisk: true, isRequired: false },
    ]);
    expect(vhdxProcess(["metadata", file]).stdout).toMatch(new RegExp(`${COLOUR} +4 bytes +virtual-disk`));

    expect(vhdxProcess(["metadata", file, "--get", LABEL]).stdoutBytes).toEqual(readFileSync(label));
    const out = join(dir, "out.bin");
    expectClean(vhdxProcess(["metadata", file, "--get", LABEL.toUpperCase(), "-o", out]));
    expect(readFileSync(out)).toEqual(readFileSync(label));
    const json = JSON.parse(vhdxProcess(["metadata", "--json", file, "--get", COLOUR]).stdout);
    expect(Buffer.from(json.base64, "base64").toString()).toBe("blue");

    expectClean(vhdxProcess(["metadata", file, "--remove", LABEL]));
    qemuClean(file);
    expect(
      JSON.parse(vhdxProcess(["metadata", "--json", file]).stdout).items.map((i: { itemId: string }) => i.itemId),
    ).toEqual([COLOUR]);
    // The virtual disk QEMU reads is untouched.
    expect(JSON.parse(run("qemu-img", ["info", "--output=json", file]))["virtual-size"]).toBe(32 << 20);
  });

  it("refuses with a code and exit status 2: a missing item, a system GUID, too large a value, bad arguments", () => {
    const file = join(dir, "refusals.vhdx");
    run("qemu-img", ["create", "-q", "-f", "vhdx", file, "8M"]);
    const big = join(dir, "big.bin");
    writeFileSync(big, new Uint8Array((1 << 20) + 1));
    const cases: Array<[string[], RegExp]> = [
      [["--get", LABEL], /^vhdx: MISSING_METADATA: /],
      [["--remove", LABEL], /^vhdx: MISSING_METADATA: /],
      [["--set", `caa16737-fa36-4d43-b3b6-33f0aa44e76b=@${big}`], /^vhdx: OUT_OF_RANGE: /],
      [
        ["--set", `caa16737-fa36-4d43-b3b6-33f0aa44e76b=@${join(dir, "label.bin")}`],
        /^vhdx: INVALID_ARGUMENT: .*system/,
      ],
      [["--set", `not-a-guid=@${join(dir, "label.bin")}`], /^vhdx: INVALID_ARGUMENT: .*not a GUID/],
      [["--set", LABEL], /^vhdx: INVALID_ARGUMENT: .*GUID=@FILE/],
      [["--get", LABEL, "--remove", LABEL], /^vhdx: INVALID_ARGUMENT: .*exclude/],
    ];
    for (const [args, message] of cases) {
      const outcome = vhdxProcess(["metadata", file, ...args]);
      expect(outcome.stderr, args.join(" ")).toMatch(message);
      expect(outcome.status, args.join(" ")).toBe(2);
    }
    qemuClean(file);
  });

  it("has --help with examples", () => {
    const help = vhdxProcess(["metadata", "--help"]);
    expectClean(help);
    expect(help.stdout).toMatch(/Examples:\n {2}vhdx metadata/);
  });
});

describe.skipIf(!hasQemu)("vhdx convert", () => {
  it("copies the user items into a VHDX output, not into a raw one", () => {
    const file = join(dir, "source.vhdx");
    run("qemu-img", ["create", "-q", "-f", "vhdx", file, "8M"]);
    execFileSync("qemu-io", ["-c", "write -P 0x5c 0 1M", file], { stdio: "ignore" });
    expectClean(
      vhdxProcess(["metadata", file, "--set", `${COLOUR}=@-`, "--virtual-disk"], { input: Buffer.from("red") }),
    );
    const copy = join(dir, "copy.vhdx");
    expectClean(vhdxProcess(["convert", "-q", file, copy]));
    expect(JSON.parse(vhdxProcess(["metadata", "--json", copy]).stdout).items).toEqual([
      { itemId: COLOUR, length: 3, isVirtualDisk: true, isRequired: false },
    ]);
    expect(vhdxProcess(["metadata", copy, "--get", COLOUR]).stdout).toBe("red");
    qemuClean(copy);
    expect(vhdxProcess(["compare", file, copy]).status).toBe(0);
    const raw = join(dir, "copy.raw");
    expectClean(vhdxProcess(["convert", "-q", "-O", "raw", file, raw]));
  });
});
