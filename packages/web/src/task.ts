// A long task on the page (save, convert, walk): a labelled progress bar, a
// Cancel button that aborts it, and a status line read out by screen readers.
import { errorText, h } from "./dom.js";
import { formatSize } from "./format.js";

export interface Task {
  readonly signal: AbortSignal;
  /** Bytes done of total. */
  update(done: number, total: number): void;
  finish(message: string | Node): void;
  fail(error: unknown): void;
}

function isAbort(error: unknown): boolean {
  return error instanceof DOMException && error.name === "AbortError";
}

/** Shows a task in `container` (replacing what it showed) and returns its controls. */
export function startTask(container: HTMLElement, label: string): Task {
  const controller = new AbortController();
  const bar = h("progress", { max: 1, value: 0 });
  const text = h("span", { class: "progress-text" }, "starting");
  const cancel = h("button", { type: "button", class: "secondary" }, "Cancel");
  cancel.addEventListener("click", () => controller.abort());
  const status = h("p", { class: "task-status", role: "status", "aria-live": "polite" }, `${label}…`);
  const row = h("div", { class: "task-row" }, h("label", {}, `${label} `, bar), text, cancel);
  container.replaceChildren(row, status);
  container.dataset.state = "running";
  const end = (state: string, message: string | Node) => {
    row.remove();
    status.replaceChildren(message);
    container.dataset.state = state;
  };
  return {
    signal: controller.signal,
    update(done, total) {
      bar.value = total === 0 ? 1 : done / total;
      text.textContent = `${formatSize(done)} of ${formatSize(total)}`;
    },
    finish: (message) => end("done", message),
    fail(error) {
      if (isAbort(error)) end("cancelled", `${label}: cancelled; nothing was kept.`);
      else {
        end("failed", `${label} failed: ${errorText(error)}`);
        status.classList.add("error");
        status.setAttribute("role", "alert");
      }
    },
  };
}
