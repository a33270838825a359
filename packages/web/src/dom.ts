// A small helper to build DOM elements without a framework.

type Child = Node | string | null | undefined | false;
type Props = Record<string, string | number | boolean | undefined>;

/** `h("p", { class: "x" }, "text", child)`: attributes set as given, false/undefined left out. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === false) continue;
    element.setAttribute(name, value === true ? "" : String(value));
  }
  element.append(
    ...children.filter((child): child is Node | string => child !== null && child !== undefined && child !== false),
  );
  return element;
}

/** A table from a header row and rows of cells; the caption is left out when the section's heading says it. */
export function table(
  caption: string | null,
  header: readonly string[],
  rows: readonly (readonly Child[])[],
): HTMLTableElement {
  return h(
    "table",
    {},
    caption === null ? null : h("caption", {}, caption),
    h("thead", {}, h("tr", {}, ...header.map((text) => h("th", { scope: "col" }, text)))),
    h("tbody", {}, ...rows.map((row) => h("tr", {}, ...row.map((cell) => h("td", {}, cell))))),
  );
}

/** The message of anything thrown: a VhdxError's code and message, or the text of another error. */
export function errorText(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === "string" ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}
