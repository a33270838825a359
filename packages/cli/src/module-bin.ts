// dist/vhdx.js: the command for scripts that run that file, as earlier
// builds had it. It only loads dist/vhdx.cjs (bin/vhdx.cjs is the quicker way in).
import { createRequire } from "node:module";

createRequire(import.meta.url)("./vhdx.cjs");
