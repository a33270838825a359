// Files that are not VHDX, and differencing disks whose parent is missing:
// probeFormat names what a file is, openImage refuses other formats with one
// code whatever their size, and requireParent: false opens a child without
// its parent for tools that describe it.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { STATE, buildVhdx } from "@vhdx-tools/fixtures";
import { oracle } from "@vhdx-tools/oracles";
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemorySource, VhdxError, openImage, probeFormat } from "../src/index.js";
import { FileSource, openVhdx } from "../src/node/index.js";

const MiB = 1 << 20;
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "vhdx-not-vhdx-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function bytesWith(size: number, at: number, magic: number[] | string): Uint8Array {
  const bytes = new Uint8Array(size);
  bytes.set(typeof magic === "string" ? [...magic].map((c) => c.charCodeAt(0)) : magic, at);
  return bytes;
}

async function openError(bytes: Uint8Array): Promise<VhdxError> {
  const error = await openImage(new MemorySource(bytes)).then(
    () => null,
    (e: unknown) => e,
  );
  if (!VhdxError.isInstance(error)) throw new Error(`expected a VhdxError, got ${String(error)}`);
  return error;
}

describe("probeFormat, by magic numbers", () => {
  const cases: Array<[string, Uint8Array, string]> = [
    ["qcow2", bytesWith(4096, 0, [0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 3]), "qcow2"],
    ["qcow v1", bytesWith(4096, 0, [0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 1]), "qcow"],
    ["QED", bytesWith(4096, 0, "QED\0"), "qed"],
    ["sparse VMDK", bytesWith(4096, 0, "KDMV"), "vmdk"],
    ["VMDK descriptor", bytesWith(4096, 0, "# Disk DescriptorFile\nversion=1\n"), "vmdk"],
    ["VDI", bytesWith(4096, 0x40, [0x7f, 0x10, 0xda, 0xbe]), "vdi"],
    ["Parallels", bytesWith(4096, 0, "WithoutFreeSpace"), "parallels"],
    ["VHD footer", bytesWith(4096, 4096 - 512, "conectix"), "vhd"],
    ["old VHD footer (511 bytes)", bytesWith(4096, 4096 - 511, "conectix"), "vhd"],
    ["dynamic VHD's footer copy", bytesWith(4096, 0, "conectix"), "vhd"],
    ["VHDX", bytesWith(4096, 0, "vhdxfile"), "vhdx"],
    ["VHDX with its identifier damaged", bytesWith(0x50000, 0x10000, "head"), "damaged-vhdx"],
    ["zeros", new Uint8Array(4096), "unknown"],
    ["an empty file", new Uint8Array(0), "unknown"],
    ["three bytes", Uint8Array.of(1, 2, 3), "unknown"],
  ];
  for (const [name, bytes, format] of cases) {
    it(`${name}: ${format}`, async () => {
      expect(await probeFormat(new MemorySource(bytes))).toBe(format);
    });
  }
});

describe("openImage of a file that is not VHDX", () => {
  it("is NOT_VHDX at offset 0 whatever its size, never TRUNCATED", async () => {
    for (const size of [0, 6, 4096, 2 * MiB]) {
      const error = await openError(bytesWith(size, 0, size >= 5 ? "hello" : ""));
      expect(error.code, `${size} bytes`).toBe("NOT_VHDX");
      expect(error.offset).toBe(0);
    }
  });

  it("names another image format with UNSUPPORTED_FORMAT", async () => {
    const error = await openError(bytesWith(4096, 0, [0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 3]));
    expect(error.code).toBe("UNSUPPORTED_FORMAT");
    expect(error.message).toMatch(/qcow2 image, not VHDX/);
  });

  it("keeps BAD_SIGNATURE for a VHDX whose identifier alone is damaged", async () => {
    const image = buildVhdx({ type: "dynamic", virtualSize: 8 * MiB, blockSize: MiB }).bytes;
    image.set([0x58, 0x58, 0x58, 0x58], 0);
    const error = await openError(image);
    expect(error.code).toBe("BAD_SIGNATURE");
    expect(error.structure).toBe("file identifier");
  });

  it("a short file that does start with vhdxfile is TRUNCATED", async () => {
    expect((await openError(bytesWith(4096, 0, "vhdxfile"))).code).toBe("TRUNCATED");
  });
});

describe.skipIf(!oracle("qemu-img"))("openVhdx of images qemu-img makes in other formats", () => {
  for (const [format, name] of [
    ["qcow2", "qcow2"],
    ["vpc", "VHD"],
    ["vmdk", "VMDK"],
    ["vdi", "VDI"],
    ["qed", "QED"],
    ["parallels", "Parallels"],
  ]) {
    it(`${format}: UNSUPPORTED_FORMAT naming ${name}`, async () => {
      const path = join(dir, `disk.${format}`);
      execFileSync("qemu-img", ["create", "-q", "-f", format!, path, "8M"]);
      const error = await openVhdx(path).then(
        () => null,
        (e: unknown) => e,
      );
      expect(VhdxError.isInstance(error) && error.code).toBe("UNSUPPORTED_FORMAT");
      expect(String((error as Error).message)).toContain(`${name}`);
    });
  }
});

describe("a differencing disk whose parent is missing", () => {
  function writeChild(): string {
    const parent = buildVhdx({
      type: "dynamic",
      virtualSize: 8 * MiB,
      blockSize: MiB,
      blocks: { 0: { state: STATE.FULLY_PRESENT } },
    });
    const child = buildVhdx({
      type: "differencing",
      virtualSize: 8 * MiB,
      blockSize: MiB,
      parent: { dataWriteGuid: parent.dataWriteGuid, paths: { relative_path: ".\\gone.vhdx" } },
      blocks: { 1: { state: STATE.FULLY_PRESENT } },
    });
    const path = join(dir, "orphan.vhdx");
    writeFileSync(path, child.bytes);
    return path;
  }

  it("refuses to open by default", async () => {
    const path = writeChild();
    await expect(openVhdx(path)).rejects.toMatchObject({ code: "PARENT_NOT_FOUND" });
  });

  it("opens with requireParent: false, reads its own blocks, and refuses what the parent holds", async () => {
    const path = writeChild();
    const image = await openVhdx(path, { requireParent: false });
    try {
      expect(image.parent).toBeNull();
      expect(image.parentError?.code).toBe("PARENT_NOT_FOUND");
      expect(image.parentLocator?.relative_path).toBe(".\\gone.vhdx");
      await image.read(MiB, 4096);
      await expect(image.read(0, 4096)).rejects.toMatchObject({ code: "PARENT_NOT_FOUND" });
    } finally {
      await image.close();
    }
  });

  it("requireParent: false does not apply to a read-write open", async () => {
    const path = writeChild();
    const source = await FileSource.open(path, { readOnly: false });
    try {
      await expect(openImage(source, { readOnly: false, requireParent: false })).rejects.toMatchObject({
        code: "PARENT_NOT_FOUND",
      });
    } finally {
      await source.close();
    }
  });
});
