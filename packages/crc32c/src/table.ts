// Lookup tables for table-driven CRC-32C.
//
// tables[k * 256 + b] is the CRC register contribution of byte b when it is
// followed by k further bytes, so 16 bytes can be folded in with 16 independent
// lookups ("slicing-by-16"); row 0 is the classic byte-at-a-time table.

/** The reflected Castagnoli polynomial. */
export const CRC32C_POLYNOMIAL = 0x82f63b78;

export function buildTables(slices: number): Int32Array {
  const tables = new Int32Array(256 * slices);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 1 ? (crc >>> 1) ^ CRC32C_POLYNOMIAL : crc >>> 1;
    }
    tables[byte] = crc;
  }
  for (let slice = 1; slice < slices; slice++) {
    for (let byte = 0; byte < 256; byte++) {
      const previous = tables[(slice - 1) * 256 + byte]!;
      tables[slice * 256 + byte] = (previous >>> 8) ^ tables[previous & 0xff]!;
    }
  }
  return tables;
}

/** Whether this platform stores an Int32Array element little-endian. */
export function isLittleEndianHost(): boolean {
  return new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
}
