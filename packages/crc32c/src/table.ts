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

/**
 * The table that moves a crc register over `zeroBytes` zero bytes (a
 * multiple of 16): shift[k * 256 + b] is the register that byte k of the
 * register, of value b, becomes. Built from `tables` (16 rows), one register
 * bit at a time, since the move is linear.
 */
export function buildZeroShiftTable(tables: Int32Array, zeroBytes: number): Int32Array {
  const overSixteenZeros = (r: number) =>
    tables[3840 + (r & 255)]! ^
    tables[3584 + ((r >>> 8) & 255)]! ^
    tables[3328 + ((r >>> 16) & 255)]! ^
    tables[3072 + (r >>> 24)]!;
  const ofBit = new Int32Array(32);
  for (let bit = 0; bit < 32; bit++) {
    let r = 1 << bit;
    for (let i = 0; i < zeroBytes; i += 16) r = overSixteenZeros(r);
    ofBit[bit] = r;
  }
  const shift = new Int32Array(4 * 256);
  for (let k = 0; k < 4; k++) {
    for (let b = 1; b < 256; b++) {
      const lowest = b & -b;
      shift[k * 256 + b] = shift[k * 256 + (b ^ lowest)]! ^ ofBit[8 * k + 31 - Math.clz32(lowest)]!;
    }
  }
  return shift;
}
