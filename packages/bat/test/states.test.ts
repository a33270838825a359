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
} from "@vhdx/structs";
import { describe, expect, it } from "vitest";
import {
  isValidPayloadState,
  isValidSectorBitmapState,
  normalizePayloadState,
  PAYLOAD_STATE_NAMES,
  payloadReadKind,
  SECTOR_BITMAP_STATE_NAMES,
} from "../src/index.js";
import { expectVhdxError } from "./helpers.js";

// The read meaning of every 3-bit value, written out from MS-VHDX 2.5.1.1 (null = corrupt).
const EXPECTED: Record<number, { plain: string | null; differencing: string | null }> = {
  0: { plain: "zero", differencing: "parent" },
  1: { plain: "zero", differencing: "zero" },
  2: { plain: "zero", differencing: "zero" },
  3: { plain: "zero", differencing: "zero" },
  4: { plain: null, differencing: null },
  5: { plain: "zero", differencing: "zero" },
  6: { plain: "data", differencing: "data" },
  7: { plain: null, differencing: "partial" },
};

describe("payload block states", () => {
  it("uses the values of the spec", () => {
    expect([
      PAYLOAD_BLOCK_NOT_PRESENT,
      PAYLOAD_BLOCK_UNDEFINED,
      PAYLOAD_BLOCK_ZERO,
      PAYLOAD_BLOCK_UNMAPPED,
      PAYLOAD_BLOCK_UNMAPPED_V095,
      PAYLOAD_BLOCK_FULLY_PRESENT,
      PAYLOAD_BLOCK_PARTIALLY_PRESENT,
    ]).toEqual([0, 1, 2, 3, 5, 6, 7]);
  });

  for (let state = 0; state <= 7; state++) {
    for (const hasParent of [false, true]) {
      const expected = EXPECTED[state]![hasParent ? "differencing" : "plain"];
      it(`reads state ${state} ${hasParent ? "with" : "without"} a parent as ${expected ?? "CORRUPT_BAT"}`, () => {
        if (expected === null) {
          const error = expectVhdxError(() => payloadReadKind(state, hasParent), "CORRUPT_BAT", "State");
          expect(error.message).toContain(String(state));
          expect(isValidPayloadState(state, hasParent)).toBe(false);
        } else {
          expect(payloadReadKind(state, hasParent)).toBe(expected);
          expect(isValidPayloadState(state, hasParent)).toBe(true);
        }
      });
    }
  }

  it("refuses values outside 3 bits", () => {
    for (const state of [-1, 8, 255, 1.5, NaN]) {
      expectVhdxError(() => payloadReadKind(state, true), "CORRUPT_BAT");
      expect(isValidPayloadState(state, true)).toBe(false);
    }
  });

  it("normalizes the v0.95 UNMAPPED value 5 to 3 and leaves the rest", () => {
    for (let state = 0; state <= 7; state++) expect(normalizePayloadState(state)).toBe(state === 5 ? 3 : state);
  });

  it("names every 3-bit value for reports", () => {
    expect(PAYLOAD_STATE_NAMES[0]).toBe("NOT_PRESENT");
    expect(PAYLOAD_STATE_NAMES[3]).toBe("UNMAPPED");
    expect(PAYLOAD_STATE_NAMES[5]).toBe("UNMAPPED (v0.95)");
    expect(PAYLOAD_STATE_NAMES[6]).toBe("FULLY_PRESENT");
    expect(PAYLOAD_STATE_NAMES[7]).toBe("PARTIALLY_PRESENT");
    for (let state = 0; state <= 7; state++) expect(typeof PAYLOAD_STATE_NAMES[state]).toBe("string");
  });
});

describe("sector bitmap block states", () => {
  it("accepts NOT_PRESENT anywhere and PRESENT only in a differencing file", () => {
    expect([SB_BLOCK_NOT_PRESENT, SB_BLOCK_PRESENT]).toEqual([0, 6]);
    for (let state = 0; state <= 7; state++) {
      expect(isValidSectorBitmapState(state), `state ${state}`).toBe(state === 0 || state === 6);
      expect(isValidSectorBitmapState(state, true), `state ${state}`).toBe(state === 0 || state === 6);
      expect(isValidSectorBitmapState(state, false), `state ${state}`).toBe(state === 0);
    }
    expect(SECTOR_BITMAP_STATE_NAMES[6]).toBe("PRESENT");
  });
});
