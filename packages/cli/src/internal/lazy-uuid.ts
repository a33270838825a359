// What the command's bundle has in place of the `uuid` package (see
// tsup.config.ts): its v4() on Node is node:crypto's randomUUID, but the
// package loads node:crypto as it is imported, about 5 ms of every start,
// where only the commands that make an image need a random GUID.
import type { randomUUID } from "node:crypto";

let random: typeof randomUUID | undefined;

export function v4(): string {
  random ??= (require("node:crypto") as typeof import("node:crypto")).randomUUID;
  return random();
}
