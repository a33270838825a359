// Small builders shared by the validators.
import { VhdxError, type VhdxErrorCode } from "../errors.js";
import type { Violation } from "../violation.js";

export function violation(rule: string, code: VhdxErrorCode, field: string, message: string): Violation {
  return { rule, code, field, message };
}

/** The SIGNATURE violation, or nothing. Reads like `signature is 0x00000000, expected "regi"`. */
export function checkSignature(out: Violation[], actual: string, expected: string, field = "signature"): void {
  if (actual === expected) return;
  let bytes = "";
  for (let i = 0; i < actual.length; i++) bytes += actual.charCodeAt(i).toString(16).padStart(2, "0");
  out.push(violation("SIGNATURE", "BAD_SIGNATURE", field, `${field} is 0x${bytes}, expected "${expected}"`));
}

/** Prefixes the field of each violation, e.g. "fileOffset" → "entries[2].fileOffset". */
export function within(prefix: string, violations: Violation[]): Violation[] {
  return violations.map((v) => ({ ...v, field: `${prefix}.${v.field}` }));
}

/**
 * The CHECKSUM violation, or nothing. `checksumOf` lays the decoded value out
 * again (reserved bytes included, so the bytes are the original ones) and
 * computes the checksum; a value that cannot be laid out is reported instead.
 */
export function checkChecksum(out: Violation[], stored: number, checksumOf: () => number): void {
  let computed: number;
  try {
    computed = checksumOf();
  } catch (error) {
    if (!VhdxError.isInstance(error)) throw error;
    out.push(violation("FIELD_RANGE", error.code, error.field ?? "", error.detail));
    return;
  }
  if (computed !== stored) {
    const message = `checksum is 0x${hex8(stored)}, the contents give 0x${hex8(computed)}`;
    out.push(violation("CHECKSUM", "CHECKSUM_MISMATCH", "checksum", message));
  }
}

function hex8(value: number): string {
  return value.toString(16).padStart(8, "0");
}

export function checkReserved(out: Violation[], field: string, isZero: boolean): void {
  if (!isZero) out.push(violation("RESERVED", "BAD_FIELD", field, `${field} is not zero`));
}

export function checkAlignment(out: Violation[], field: string, value: number, unit: number, unitName: string): void {
  if (value % unit !== 0) {
    out.push(violation("ALIGNMENT", "BAD_FIELD", field, `${field} is ${value}, not a multiple of ${unitName}`));
  }
}

/** The SEQUENCE_MISMATCH violation when the entry's sequence number is known and differs. */
export function checkSequence(
  out: Violation[],
  actual: bigint,
  expected: bigint | undefined,
  field = "sequenceNumber",
): void {
  if (expected !== undefined && expected !== actual) {
    const message = `sequence number ${actual} is not the entry's ${expected}`;
    out.push(violation("SEQUENCE_MISMATCH", "BAD_FIELD", field, message));
  }
}
