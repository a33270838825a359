// The BAT pass over each entry on its own (MS-VHDX 2.5.1): its state is one
// the kind of file allows, its reserved bits are clear, and a chunk with
// PARTIALLY_PRESENT blocks has its sector bitmap block. Counts the blocks
// that hold data.
import { PAYLOAD_STATE_NAMES } from "@vhdx/bat";
import {
  PAYLOAD_BLOCK_FULLY_PRESENT,
  PAYLOAD_BLOCK_PARTIALLY_PRESENT,
  PAYLOAD_BLOCK_UNMAPPED_V095,
  SB_BLOCK_NOT_PRESENT,
} from "@vhdx/structs";
import { type CheckedEntry, describeEntry, holdsData } from "./bat-entries.js";
import type { Findings } from "./findings.js";

/** The payload state no reader can interpret. */
const RESERVED_PAYLOAD_STATE = 4;

export class EntryStates {
  /** Payload blocks with data in this file. */
  allocatedBlocks = 0;
  private chunkHasPartial = false;

  constructor(
    private readonly hasParent: boolean,
    private readonly findings: Findings,
  ) {}

  check(entry: CheckedEntry): void {
    if (entry.reserved !== 0) this.reservedBits(entry);
    if (entry.sectorBitmap) this.sectorBitmapState(entry);
    else this.payloadState(entry);
  }

  private reservedBits(entry: CheckedEntry): void {
    this.findings.warning({
      rule: "BAT_RESERVED_BITS",
      structure: "BAT",
      offset: entry.at,
      message: `entry ${entry.index} has reserved bits 3-19 set (0x${entry.reserved.toString(16)}); readers ignore them`,
    });
  }

  private sectorBitmapState(entry: CheckedEntry): void {
    const present = holdsData(entry, this.hasParent);
    if (!present && entry.state !== SB_BLOCK_NOT_PRESENT) {
      const valid = this.hasParent
        ? "only NOT_PRESENT (0) and PRESENT (6) are defined"
        : "only NOT_PRESENT (0) is valid outside a differencing disk";
      this.bitmapError(entry, "BAD_BITMAP_STATE", `the ${describeEntry(entry)} has state ${entry.state}; ${valid}`);
    }
    if (!present && this.chunkHasPartial) {
      this.bitmapError(
        entry,
        "BITMAP_MISSING",
        `chunk ${entry.number} has PARTIALLY_PRESENT blocks but its sector bitmap block (entry ${entry.index}) is not present`,
      );
    }
    this.chunkHasPartial = false;
  }

  private payloadState(entry: CheckedEntry): void {
    switch (entry.state) {
      case PAYLOAD_BLOCK_FULLY_PRESENT:
        this.allocatedBlocks++;
        return;
      case PAYLOAD_BLOCK_PARTIALLY_PRESENT:
        if (this.hasParent) {
          this.allocatedBlocks++;
          this.chunkHasPartial = true;
        } else {
          this.batError(
            entry,
            "PARTIAL_NOT_DIFFERENCING",
            `${describeEntry(entry)} is PARTIALLY_PRESENT, which is valid only in a differencing disk`,
          );
        }
        return;
      case RESERVED_PAYLOAD_STATE:
        this.batError(
          entry,
          "BAD_BLOCK_STATE",
          `${describeEntry(entry)} has the reserved state 4, which no reader can interpret`,
        );
        return;
      case PAYLOAD_BLOCK_UNMAPPED_V095:
        this.findings.warning({
          rule: "LEGACY_UNMAPPED",
          structure: "BAT",
          offset: entry.at,
          message: `${describeEntry(entry)} has state 5, the v0.95 draft's ${PAYLOAD_STATE_NAMES[PAYLOAD_BLOCK_UNMAPPED_V095]}; it reads as zeros`,
        });
    }
  }

  private batError(entry: CheckedEntry, rule: "PARTIAL_NOT_DIFFERENCING" | "BAD_BLOCK_STATE", message: string): void {
    this.findings.error({ rule, code: "CORRUPT_BAT", structure: "BAT", offset: entry.at, message });
  }

  private bitmapError(entry: CheckedEntry, rule: "BAD_BITMAP_STATE" | "BITMAP_MISSING", message: string): void {
    this.findings.error({ rule, code: "CORRUPT_BITMAP", structure: "BAT", offset: entry.at, message });
  }
}
