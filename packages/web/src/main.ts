// The page: open disks from files (picked or dropped) or a URL, show each,
// and turn a raw file into a dynamic VHDX. Everything runs here; the only
// requests are for the page's own files and the URLs the person pastes.
import { BlobSource, HttpSource, openChains, openImage } from "@vhdx/image";
import { convertRawToVhdx } from "./convert.js";
import { type OpenedDisk, renderDisk } from "./disk-view.js";
import { errorText, h } from "./dom.js";
import { formatSize } from "./format.js";
import { saveOutput } from "./save-raw.js";
import { startTask } from "./task.js";
import "./style.css";

const byId = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const disks = byId<HTMLElement>("disks");
const status = byId<HTMLElement>("status");

/** Shows what happened; `problems` (one per line) as errors. */
function say(message: string, problems: string[] = []): void {
  status.replaceChildren(
    ...(message ? [h("p", {}, message)] : []),
    ...problems.map((problem) => h("p", { class: "error" }, problem)),
  );
}

function addDisk(disk: OpenedDisk): void {
  const article = renderDisk(disk, () => {
    article.remove();
    void disk.image.close();
  });
  disks.prepend(article);
}

async function openFiles(files: File[]): Promise<void> {
  if (files.length === 0) return;
  say(`Opening ${files.length === 1 ? files[0]!.name : `${files.length} files`}…`);
  try {
    // One image per leaf, its parents chosen among the files by DataWriteGuid (never by name or order).
    const sources = files.map((file) => new BlobSource(file, file.name));
    const { images, unused } = await openChains(sources, { requireParent: false });
    for (const image of images) {
      const name = image.source.name;
      // image.source is the given source, or an overlay of it (named alike) when a log was replayed.
      const index = sources.indexOf(image.source as BlobSource);
      const file = files[index] ?? files.find((candidate) => candidate.name === name) ?? files[0]!;
      addDisk({ image, name, checkSource: () => new BlobSource(file, name) });
    }
    const opened = images.length === 0 ? "" : `Opened ${images.length} disk${images.length > 1 ? "s" : ""}.`;
    say(
      opened,
      unused.map(({ source, reason }) => `${source.name}: ${reason}`),
    );
  } catch (error) {
    say("", [errorText(error)]);
  }
}

async function openUrl(text: string): Promise<void> {
  let url: URL;
  try {
    url = new URL(text);
    if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error();
  } catch {
    return say("", [`${JSON.stringify(text)} is not an http or https URL.`]);
  }
  say(`Opening ${url.href}…`);
  const source = new HttpSource(url.href);
  try {
    const image = await openImage(source, { requireParent: false });
    addDisk({ image, name: url.href, checkSource: () => new HttpSource(url.href) });
    say(`Opened ${url.href}.`);
  } catch (error) {
    await source.close();
    say("", [errorText(error)]);
  }
}

function setUpOpening(): void {
  const picker = byId<HTMLInputElement>("files");
  picker.addEventListener("change", () => {
    void openFiles([...(picker.files ?? [])]).finally(() => {
      picker.value = "";
    });
  });
  const drop = byId<HTMLElement>("drop");
  drop.addEventListener("dragover", (event) => {
    event.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    void openFiles([...(event.dataTransfer?.files ?? [])]);
  });
  const form = byId<HTMLFormElement>("url-form");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void openUrl(byId<HTMLInputElement>("url").value.trim());
  });
}

function setUpConversion(): void {
  const picker = byId<HTMLInputElement>("raw");
  const area = byId<HTMLElement>("convert-task");
  picker.addEventListener("change", () => {
    const file = picker.files?.[0];
    picker.value = "";
    if (file === undefined) return;
    const task = startTask(area, `Converting ${file.name} to a dynamic VHDX`);
    convertRawToVhdx(file, task).then(
      (converted) => {
        const saveButton = h("button", { type: "button" }, "Save VHDX");
        const openButton = h("button", { type: "button", class: "secondary" }, "Open it here");
        const saveArea = h("div", { class: "task" });
        const output = new File([converted.blob], converted.name);
        saveButton.addEventListener("click", () => {
          const save = startTask(saveArea, `Saving ${converted.name}`);
          const blob = converted.blob;
          saveOutput({ name: converted.name, size: blob.size, blob, open: () => blob.stream() }, save).then(
            (message) => save.finish(message),
            (error: unknown) => save.fail(error),
          );
        });
        openButton.addEventListener("click", () => void openFiles([output]));
        task.finish(
          h(
            "span",
            { "data-field": "converted", "data-storage": converted.storage },
            `Made ${converted.name}: ${formatSize(converted.blob.size)}, holding ${formatSize(converted.dataBytes)} of data ` +
              `(the zeros of ${formatSize(file.size)} take no space). `,
            h("span", { class: "actions" }, saveButton, openButton),
            saveArea,
          ),
        );
      },
      (error: unknown) => task.fail(error),
    );
  });
}

setUpOpening();
setUpConversion();
say("");
