// MS-VHDX 2.5.1.1 Payload BAT Entry States and 2.5.1.2 Sector Bitmap BAT Entry
// States: which values are valid in which kind of file, and what a read of a
// block in each state returns.
//
// | payload state           | value | read                                      |
// |-------------------------|-------|-------------------------------------------|
// | NOT_PRESENT             | 0     | zeros; differencing: the parent           |
// | UNDEFINED               | 1     | zeros (a correct answer)                  |
// | ZERO                    | 2     | zeros                                     |
// | UNMAPPED                | 3     | zeros (a correct answer)                  |
// | (reserved)              | 4     | corrupt                                   |
// | UNMAPPED, v0.95 draft   | 5     | read as UNMAPPED; never written           |
// | FULLY_PRESENT           | 6     | data at FileOffsetMB                      |
// | PARTIALLY_PRESENT       | 7     | differencing only: per sector, bitmap     |
//
// Sector bitmap states: 0 NOT_PRESENT (any file), 6 PRESENT (differencing only).
import {
  PAYLOAD_BLOCK_FULLY_PRESENT,
  PAYLOAD_BLOCK_NOT_PRESENT,
  PAYLOAD_BLOCK_PARTIALLY_PRESENT,
  PAYLOAD_BLOCK_UNDEFINED,
  PAYLOAD_BLOCK_UNMAPPED,
  PAYLOAD_BLOCK_UNMAPPED_V095,
  PAYLOAD_BLOCK_ZERO,
  SB_BLOCK_NOT_PRESENT,
  SB_BLOCK_PRESENT,
  VhdxError,
} from "@vhdx/structs";

/** How a read of a payload block is answered. */
export type PayloadReadKind = "data" | "zero" | "parent" | "partial";

// Numeric kinds for the read loop; READ_KINDS maps them to the names.
export const KIND_INVALID = -1;
export const KIND_DATA = 0;
const KIND_ZERO = 1;
const KIND_PARENT = 2;
export const KIND_PARTIAL = 3;
export const READ_KINDS: readonly PayloadReadKind[] = ["data", "zero", "parent", "partial"];

/** Names for reports, indexed by the raw 3-bit state. */
export const PAYLOAD_STATE_NAMES: Record<number, string> = Object.freeze({
  0: "NOT_PRESENT",
  1: "UNDEFINED",
  2: "ZERO",
  3: "UNMAPPED",
  4: "RESERVED (4)",
  5: "UNMAPPED (v0.95)",
  6: "FULLY_PRESENT",
  7: "PARTIALLY_PRESENT",
});

/** Names for reports, indexed by the raw 3-bit state of a sector bitmap entry. */
export const SECTOR_BITMAP_STATE_NAMES: Record<number, string> = Object.freeze({
  0: "NOT_PRESENT",
  6: "PRESENT",
});

/** The numeric read kind of a payload state, or KIND_INVALID. No allocation. */
export function payloadReadKindCode(state: number, hasParent: boolean): number {
  switch (state) {
    case PAYLOAD_BLOCK_NOT_PRESENT:
      return hasParent ? KIND_PARENT : KIND_ZERO;
    case PAYLOAD_BLOCK_UNDEFINED:
    case PAYLOAD_BLOCK_ZERO:
    case PAYLOAD_BLOCK_UNMAPPED:
    case PAYLOAD_BLOCK_UNMAPPED_V095:
      return KIND_ZERO;
    case PAYLOAD_BLOCK_FULLY_PRESENT:
      return KIND_DATA;
    case PAYLOAD_BLOCK_PARTIALLY_PRESENT:
      return hasParent ? KIND_PARTIAL : KIND_INVALID;
    default:
      return KIND_INVALID;
  }
}

/**
 * What a read of a block in `state` returns. Throws VhdxError CORRUPT_BAT for
 * the reserved value 4, values outside 0..7, and PARTIALLY_PRESENT outside a
 * differencing file.
 */
export function payloadReadKind(state: number, hasParent: boolean): PayloadReadKind {
  const kind = payloadReadKindCode(state, hasParent);
  if (kind === KIND_INVALID) throw invalidPayloadState(state, hasParent);
  return READ_KINDS[kind]!;
}

/** True when a reader accepts the state: 0, 1, 2, 3, 5 (legacy), 6; and 7 with a parent. */
export function isValidPayloadState(state: number, hasParent: boolean): boolean {
  return payloadReadKindCode(state, hasParent) !== KIND_INVALID;
}

/** NOT_PRESENT is valid in any file; PRESENT only in a differencing one (the default). */
export function isValidSectorBitmapState(state: number, hasParent = true): boolean {
  return state === SB_BLOCK_NOT_PRESENT || (hasParent && state === SB_BLOCK_PRESENT);
}

/** The CORRUPT_BAT error for a payload state a reader refuses. */
export function invalidPayloadState(state: number, hasParent: boolean, details: { offset?: number } = {}): VhdxError {
  const name = PAYLOAD_STATE_NAMES[state] ?? "not a 3-bit value";
  const why =
    state === PAYLOAD_BLOCK_PARTIALLY_PRESENT && !hasParent
      ? "PARTIALLY_PRESENT is valid only in a differencing file"
      : "not a payload block state";
  return new VhdxError("CORRUPT_BAT", `payload state is ${state} (${name}): ${why}`, {
    structure: "BAT entry",
    field: "State",
    ...details,
  });
}
