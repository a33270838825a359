// Files that are not VHDX get a clear message (the library's error code and
// message), never a blank page, and the page keeps working after them.
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { type TempDir, oracles, qemuCreate, run, tempDir } from "@vhdx-tools/oracles";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type PageSession, diskShown, foreignRequests, startPageSession } from "./session.js";

const MiB = 2 ** 20;
const ready = oracles("chromium", "qemu-img");

describe.skipIf(!ready)("files that are not VHDX", () => {
  let dir: TempDir;
  let session: PageSession;

  beforeAll(async () => {
    dir = tempDir("vhdx-web-bad-");
    run("qemu-img", ["create", "-q", "-f", "qcow2", dir.file("disk.qcow2"), "64M"]);
    writeFileSync(dir.file("random.vhdx"), randomBytes(MiB));
    writeFileSync(dir.file("empty.vhdx"), new Uint8Array(0));
    qemuCreate(dir.file("good.vhdx"), { size: 8 * MiB, subformat: "dynamic" });
    session = await startPageSession();
  }, 120_000);

  afterAll(async () => {
    await session?.close();
    dir?.remove();
  });

  test.each([
    ["disk.qcow2", /^disk\.qcow2: .*disk\.qcow2 is a qcow2 image, not VHDX; convert it first/],
    ["random.vhdx", /^random\.vhdx: .*random\.vhdx is not a VHDX image/],
    ["empty.vhdx", /^empty\.vhdx: .*empty\.vhdx/],
  ])("%s: a clear message, and the page still opens a good disk after it", async (name, message) => {
    const page = await session.open();
    await page.locator("#files").setInputFiles(dir.file(name));
    const error = page.locator("#status .error");
    await error.waitFor();
    expect(await error.textContent()).toMatch(message);
    expect(await page.locator("article.disk").count()).toBe(0);
    await page.locator("#files").setInputFiles(dir.file("good.vhdx"));
    await diskShown(page, "good.vhdx");
    expect(await page.locator("#status").textContent()).toBe("Opened 1 disk.");
    expect(page.errors).toEqual([]);
  });

  test("the three picked together: one message each", async () => {
    const page = await session.open();
    await page
      .locator("#files")
      .setInputFiles(["disk.qcow2", "random.vhdx", "empty.vhdx"].map((name) => dir.file(name)));
    await page.locator("#status .error").first().waitFor();
    const messages = await page.locator("#status .error").allTextContents();
    expect(messages.map((text) => text.split(":")[0])).toEqual(["disk.qcow2", "random.vhdx", "empty.vhdx"]);
  });

  test("an empty raw file is refused by the conversion with a message", async () => {
    const page = await session.open();
    await page.locator("#raw").setInputFiles(dir.file("empty.vhdx"));
    await page.locator('#convert-task[data-state="failed"]').waitFor();
    expect(await page.locator("#convert-task .task-status").textContent()).toContain(
      "empty.vhdx is empty: there is no disk to convert",
    );
  });

  test("a URL that is not http(s), and one that answers 404", async () => {
    const page = await session.open();
    await page.locator("#url").fill("ftp://127.0.0.1/disk.vhdx");
    await page.getByRole("button", { name: "Open URL" }).click();
    expect(await page.locator("#status .error").textContent()).toContain("is not an http or https URL");
    await page.locator("#url").fill(session.site.url("/missing.vhdx"));
    await page.getByRole("button", { name: "Open URL" }).click();
    await page.locator("#status .error").filter({ hasText: "404" }).waitFor();
  });

  test("the page asked for nothing but its own files", () => {
    expect(foreignRequests(session)).toEqual([]);
  });
});
