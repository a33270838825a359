// Saving from the page: a virtual disk as raw (a download, and a stream into a
// file from the save picker, here one of the origin's private storage), a
// cancelled save, and a raw file turned into a dynamic VHDX that QEMU checks
// and finds equal to the raw input.
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import {
  type TempDir,
  oracles,
  qemuCheck,
  qemuConvertToRaw,
  qemuCreate,
  qemuIo,
  run,
  tempDir,
} from "@vhdx-tools/oracles";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type Page, type PageSession, diskShown, foreignRequests, sha256File, startPageSession } from "./session.js";

const MiB = 2 ** 20;
const ready = oracles("chromium", "qemu-img", "qemu-io");

describe.skipIf(!ready)("saving from the page", () => {
  let dir: TempDir;
  let session: PageSession;
  let expectedRaw: string;

  beforeAll(async () => {
    dir = tempDir("vhdx-web-save-");
    qemuCreate(dir.file("dynamic.vhdx"), { size: 24 * MiB, subformat: "dynamic", blockSize: MiB });
    qemuIo(dir.file("dynamic.vhdx"), ["write -P 0xab 0 1536k", "write -P 0xcd 17M 3M", "write -z 18M 512k"]);
    qemuConvertToRaw(dir.file("dynamic.vhdx"), dir.file("expected.raw"));
    expectedRaw = sha256File(dir.file("expected.raw"));
    session = await startPageSession();
  }, 120_000);

  afterAll(async () => {
    await session?.close();
    dir?.remove();
  });

  const saveButton = (page: Page) => page.getByRole("button", { name: "Save as raw" });

  test("without a save picker, the raw disk is a download with qemu-img's bytes", async () => {
    const page = await session.open({ save: "picker-missing" });
    await page.locator("#files").setInputFiles(dir.file("dynamic.vhdx"));
    await diskShown(page, "dynamic.vhdx");
    const [download] = await Promise.all([page.waitForEvent("download"), saveButton(page).click()]);
    expect(download.suggestedFilename()).toBe("dynamic.raw");
    expect(sha256File((await download.path())!)).toBe(expectedRaw);
  });

  test("with a save picker, the raw disk streams into the file it gives, with qemu-img's bytes", async () => {
    const page = await session.open({ save: "opfs-picker" });
    await page.locator("#files").setInputFiles(dir.file("dynamic.vhdx"));
    const disk = await diskShown(page, "dynamic.vhdx");
    await saveButton(page).click();
    await disk.locator('.task[data-state="done"]').waitFor();
    expect(await disk.locator(".task-status").textContent()).toBe("Saved 24 MiB as saved-dynamic.raw.");
    expect(await privateFileSha256(page, "saved-dynamic.raw")).toBe(expectedRaw);
  });

  test("Cancel stops a save and abandons the partial file", async () => {
    const page = await session.open();
    await page.locator("#files").setInputFiles(dir.file("dynamic.vhdx"));
    const disk = await diskShown(page, "dynamic.vhdx");
    await page.evaluate(() => {
      const log: string[] = [];
      let open: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => {
        open = resolve;
      });
      const writable = {
        write: async () => {
          log.push("write");
          await gate;
        },
        close: async () => log.push("close"),
        abort: async () => log.push("abort"),
      };
      const picker = async () => ({ name: "gated.raw", createWritable: async () => writable });
      Object.assign(window, { showSaveFilePicker: picker, saveLog: log, openGate: open });
    });
    await saveButton(page).click();
    await page.waitForFunction(() => (window as unknown as { saveLog: string[] }).saveLog.includes("write"));
    await disk.getByRole("button", { name: "Cancel" }).click();
    await page.evaluate(() => (window as unknown as { openGate: () => void }).openGate());
    await disk.locator('.task[data-state="cancelled"]').waitFor();
    expect(await page.evaluate(() => (window as unknown as { saveLog: string[] }).saveLog)).toEqual(["write", "abort"]);
    expect(await disk.locator(".task-status").textContent()).toContain("cancelled");
  });

  test("a raw file becomes a sparse dynamic VHDX that qemu-img checks and finds equal to it", async () => {
    const raw = dir.file("input.raw");
    const bytes = new Uint8Array(40 * MiB);
    bytes.set(randomBytes(3 * MiB), 0);
    bytes.set(randomBytes(MiB + 4096), 30 * MiB);
    writeFileSync(raw, bytes);
    const page = await session.open({ save: "picker-missing" });
    await page.locator("#raw").setInputFiles(raw);
    const converted = page.locator('[data-field="converted"]');
    await converted.waitFor({ timeout: 60_000 });
    expect(await converted.textContent()).toContain("Made input.vhdx");
    expect(await converted.getAttribute("data-storage")).toBe("private-file");
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: "Save VHDX" }).click(),
    ]);
    expect(download.suggestedFilename()).toBe("input.vhdx");
    const vhdx = dir.file("converted.vhdx");
    await download.saveAs(vhdx);
    qemuCheck(vhdx);
    const compared = run("qemu-img", ["compare", "-f", "raw", "-F", "vhdx", raw, vhdx]).toString();
    expect(compared).toContain("Images are identical");
    // The zeros took no blocks: five 1 MiB blocks of data, and the structures (4 MiB).
    const size = Number(run("stat", ["-c", "%s", vhdx]).toString());
    expect(size).toBeLessThanOrEqual(9 * MiB);
    await page.getByRole("button", { name: "Open it here" }).click();
    const disk = await diskShown(page, "input.vhdx");
    expect(await disk.locator('[data-field="type"]').textContent()).toBe("dynamic");
    expect(await disk.locator("[data-findings]").getAttribute("data-findings")).toBe("0");
  });

  test("a raw file whose size is not a whole number of sectors is padded with zeros", async () => {
    const raw = dir.file("odd.raw");
    writeFileSync(raw, randomBytes(MiB + 100));
    const page = await session.open({ save: "opfs-picker" });
    await page.locator("#raw").setInputFiles(raw);
    await page.locator('[data-field="converted"]').waitFor({ timeout: 60_000 });
    await page.getByRole("button", { name: "Save VHDX" }).click();
    await page.locator('#convert-task .task[data-state="done"]').waitFor();
    const vhdx = dir.file("odd.vhdx");
    writeFileSync(vhdx, await privateFileBytes(page, "saved-odd.vhdx"));
    qemuCheck(vhdx);
    expect(run("qemu-img", ["compare", "-f", "raw", "-F", "vhdx", raw, vhdx]).toString()).toContain(
      "Images are identical",
    );
    expect(run("qemu-img", ["info", "--output=json", vhdx]).toString()).toContain(`"virtual-size": ${MiB + 512}`);
  });

  test("the page asked for nothing but its own files", () => {
    expect(foreignRequests(session)).toEqual([]);
  });
});

async function privateFileSha256(page: Page, name: string): Promise<string> {
  return page.evaluate(async (fileName) => {
    const file = await (await (await navigator.storage.getDirectory()).getFileHandle(fileName)).getFile();
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", await file.arrayBuffer()));
    return [...digest].map((byte) => byte.toString(16).padStart(2, "0")).join("");
  }, name);
}

async function privateFileBytes(page: Page, name: string): Promise<Uint8Array> {
  const base64 = await page.evaluate(async (fileName) => {
    const file = await (await (await navigator.storage.getDirectory()).getFileHandle(fileName)).getFile();
    const bytes = new Uint8Array(await file.arrayBuffer());
    let text = "";
    for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(text);
  }, name);
  return new Uint8Array(Buffer.from(base64, "base64"));
}
