// What a check finds: errors (the file breaks a rule of MS-VHDX; data may be
// wrong or a write may make it so) and warnings (a rule is bent but every
// reader still sees what the writer meant). Each finding names its rule, the
// error code a reader that refuses the file would throw, the structure and
// the file offset. A hostile file can break one rule millions of times: the
// lists keep the first MAX_LISTED_PER_RULE of each rule, the counts stay exact.
import type { Violation } from "@vhdx/structs";
import { type CheckCode, type CheckRule, structureRule } from "./rules.js";

export type Severity = "error" | "warning";

export interface CheckFinding {
  severity: Severity;
  /** Stable rule name, e.g. "BLOCK_PAST_EOF". */
  rule: CheckRule;
  /** The VhdxError code a reader refusing the file throws, e.g. "CORRUPT_BAT". */
  code: CheckCode;
  /** The on-disk structure, e.g. "BAT", "header", "region table". */
  structure: string;
  /** File offset of the structure or entry, when there is one. */
  offset: number | null;
  message: string;
  /** repairImage fixes it without losing data. */
  repairable: boolean;
}

const MAX_LISTED_PER_RULE = 100;

export interface FindingInit {
  rule: CheckRule;
  code?: CheckCode;
  structure: string;
  offset?: number | null | undefined;
  message: string;
  repairable?: boolean;
}

export class Findings {
  readonly errors: CheckFinding[] = [];
  readonly warnings: CheckFinding[] = [];
  errorCount = 0;
  warningCount = 0;
  private readonly perRule = new Map<string, number>();

  error(init: FindingInit): void {
    this.errorCount++;
    this.add(this.errors, "error", init);
  }

  warning(init: FindingInit): void {
    this.warningCount++;
    this.add(this.warnings, "warning", init);
  }

  /** Reports validator violations: RESERVED ones (the writer's business) as warnings, the rest as errors. */
  violations(violations: readonly Violation[], structure: string, offset: number | null): void {
    for (const v of violations) {
      const init = {
        rule: structureRule(v.rule),
        code: v.code,
        structure,
        offset,
        message: v.field ? `${v.field}: ${v.message}` : v.message,
      };
      if (v.rule === "RESERVED") this.warning(init);
      else this.error(init);
    }
  }

  /** Findings of `severity` found but not listed (past MAX_LISTED_PER_RULE of their rule). */
  omitted(severity: Severity): number {
    let count = 0;
    for (const [key, seen] of this.perRule) {
      if (key.startsWith(`${severity}:`) && seen > MAX_LISTED_PER_RULE) count += seen - MAX_LISTED_PER_RULE;
    }
    return count;
  }

  private add(list: CheckFinding[], severity: Severity, init: FindingInit): void {
    const key = `${severity}:${init.rule}`;
    const seen = (this.perRule.get(key) ?? 0) + 1;
    this.perRule.set(key, seen);
    if (seen > MAX_LISTED_PER_RULE) return;
    list.push({
      severity,
      rule: init.rule,
      code: init.code ?? "BAD_FIELD",
      structure: init.structure,
      offset: init.offset ?? null,
      message: init.message,
      repairable: init.repairable ?? false,
    });
  }
}

export const hex = (value: number): string => `0x${value.toString(16)}`;
