#!/usr/bin/env node
// The main job on an embedded default: CRC-32C of a file shipped in the
// repository (or of the file you name), and a fresh GUID with the bytes VHDX
// would store for it. Replaced by `vhdx demo` once the CLI exists.
import { readFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { crc32c } from "@vhdx/crc32c";
import { guidFromBytes, guidToBytes, randomGuid } from "@vhdx/guid";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const file = resolve(process.argv[2] ?? resolve(root, "README.md"));
const data = new Uint8Array(readFileSync(file));

const hex = (n) => `0x${n.toString(16).toUpperCase().padStart(8, "0")}`;
console.log(`file      ${relative(process.cwd(), file) || file} (${data.length} bytes)`);
console.log(`crc32c    ${hex(crc32c(data))}`);
console.log(`check     crc32c("123456789") = ${hex(crc32c(new TextEncoder().encode("123456789")))} (expected 0xE3069283)`);

const guid = randomGuid();
const stored = guidToBytes(guid);
console.log(`guid      ${guid}`);
console.log(`on disk   ${[...stored].map((b) => b.toString(16).padStart(2, "0")).join(" ")}`);
console.log(`read back ${guidFromBytes(stored)}`);
