export { crc32c } from "./crc32c.js";
export { CRC32C_POLYNOMIAL } from "./table.js";
