// What a validator returns: one Violation per broken rule, never a throw, so a
// damaged file can still be inspected. A caller that must refuse the file turns
// a violation into a VhdxError with assertValid.
import { VhdxError, type VhdxErrorCode } from "./errors.js";

export interface Violation {
  /** Stable name of the rule, e.g. "SIGNATURE", "ENTRY_COUNT", "REGION_OVERLAP". */
  rule: string;
  /** The error code a caller that refuses the structure should throw. */
  code: VhdxErrorCode;
  /** Path of the field in the decoded value, e.g. "entries[1].fileOffset". */
  field: string;
  /** What is wrong, in words, without the structure name. */
  message: string;
}

/**
 * Throws the first violation as a VhdxError naming the structure and its file
 * offset, e.g. `region table @0x30000: signature is 0x00000000, expected "regi"`.
 */
export function assertValid(
  violations: readonly Violation[],
  where: { structure: string; offset?: number | undefined },
): void {
  const first = violations[0];
  if (first === undefined) return;
  throw new VhdxError(first.code, first.message, {
    structure: where.structure,
    field: first.field,
    offset: where.offset,
  });
}
