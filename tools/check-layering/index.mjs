#!/usr/bin/env node
// Usage: check-layering [ROOT]. Exits 1 and lists every violation, or prints one OK line.
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { checkLayering } from "./layering.mjs";

const root = resolve(process.argv[2] ?? resolve(dirname(fileURLToPath(import.meta.url)), "../.."));
const violations = checkLayering(root);
if (violations.length === 0) {
  console.log("check-layering: every package keeps to its layer");
} else {
  for (const v of violations) console.error(`check-layering: ${v.file}: ${v.rule}: ${v.detail}`);
  console.error(`check-layering: ${violations.length} violation(s)`);
  process.exitCode = 1;
}
