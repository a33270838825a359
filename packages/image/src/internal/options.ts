// Refusing options a function does not know. A misspelt key (`readonly` for
// `readOnly`) would otherwise be ignored silently, and a read-only open of a
// disk the caller meant to write, or the other way round, is worse than an error.
import { VhdxError } from "@vhdx/structs";

/** Throws INVALID_ARGUMENT naming the first key of `options` that is not in `known`. */
export function checkOptionKeys(where: string, options: object | undefined, known: readonly string[]): void {
  if (typeof options !== "object" || options === null) return;
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    const near = known.find((name) => name.toLowerCase() === key.toLowerCase());
    const hint = near === undefined ? `; known options: ${known.join(", ")}` : ` (did you mean "${near}"?)`;
    throw new VhdxError("INVALID_ARGUMENT", `${where}: unknown option ${JSON.stringify(key)}${hint}`);
  }
}
