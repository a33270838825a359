// CRC-32C checksums as MS-VHDX uses them (section 2): over a whole structure
// with its own 4-byte checksum field taken as zero, stored little-endian.
import { crc32c } from "@vhdx/crc32c";
import { VhdxError } from "./errors.js";

const ZERO_CHECKSUM = new Uint8Array(4);

/**
 * CRC-32C of all of `bytes` with the 4 bytes at `checksumOffset` taken as zero.
 * Runs over the caller's buffer in three pieces; nothing is copied.
 */
export function computeChecksum(bytes: Uint8Array, checksumOffset: number): number {
  checkChecksumArguments(bytes, checksumOffset);
  let crc = crc32c(bytes.subarray(0, checksumOffset));
  crc = crc32c(ZERO_CHECKSUM, crc);
  return crc32c(bytes.subarray(checksumOffset + 4), crc);
}

/** Whether the little-endian u32 at `checksumOffset` is the checksum of `bytes`. */
export function verifyChecksum(bytes: Uint8Array, checksumOffset: number): boolean {
  return computeChecksum(bytes, checksumOffset) === readStoredChecksum(bytes, checksumOffset);
}

export function readStoredChecksum(bytes: Uint8Array, checksumOffset: number): number {
  checkChecksumArguments(bytes, checksumOffset);
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(checksumOffset, true);
}

/** Stores the checksum of `bytes` in its field, in place. Returns it. */
export function writeChecksum(bytes: Uint8Array, checksumOffset: number): number {
  const checksum = computeChecksum(bytes, checksumOffset);
  new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).setUint32(checksumOffset, checksum, true);
  return checksum;
}

function checkChecksumArguments(bytes: Uint8Array, checksumOffset: number): void {
  if (!(bytes instanceof Uint8Array)) throw new TypeError("checksum: bytes must be a Uint8Array");
  if (!Number.isSafeInteger(checksumOffset) || checksumOffset < 0) {
    throw new TypeError("checksum: checksumOffset must be a non-negative integer");
  }
  if (checksumOffset + 4 > bytes.length) {
    throw new VhdxError(
      "TRUNCATED",
      `the checksum field at ${checksumOffset} lies past the ${bytes.length} bytes given`,
      {
        structure: "checksum",
      },
    );
  }
}
