// What `vhdx check` found: errors (the file breaks a rule of MS-VHDX; data
// may be wrong or a write may make it so), warnings (a rule is bent but every
// reader still sees what the writer meant), and the counts. Each problem names
// its rule, the error code a reader that refuses the file would throw, the
// structure, and the file offset. A hostile file can break one rule millions
// of times: the lists keep the first MAX_LISTED_PER_RULE of each rule, the
// counts stay exact.
import type { Violation } from "@vhdx/structs";

export interface Problem {
  /** Stable rule name, e.g. "BLOCK_PAST_EOF". */
  rule: string;
  /** The VhdxError code a reader refusing the file throws, e.g. "CORRUPT_BAT". */
  code: string;
  /** The on-disk structure, e.g. "BAT", "header", "region table". */
  structure: string;
  /** File offset of the structure or entry, when there is one. */
  offset: number | null;
  message: string;
  /** `vhdx check --repair` fixes it without losing data. */
  repairable: boolean;
}

export type Severity = "error" | "warning";

export const MAX_LISTED_PER_RULE = 100;

export interface ProblemInit {
  rule: string;
  code?: string;
  structure: string;
  offset?: number | null | undefined;
  message: string;
  repairable?: boolean;
}

export class Findings {
  readonly errors: Problem[] = [];
  readonly warnings: Problem[] = [];
  errorCount = 0;
  warningCount = 0;
  private readonly perRule = new Map<string, number>();

  error(init: ProblemInit): void {
    this.errorCount++;
    this.add(this.errors, "error", init);
  }

  warning(init: ProblemInit): void {
    this.warningCount++;
    this.add(this.warnings, "warning", init);
  }

  /** Reports structs validator violations: RESERVED ones (the writer's business) as warnings, the rest as errors. */
  violations(violations: readonly Violation[], structure: string, offset: number | null): void {
    for (const v of violations) {
      const init = { rule: v.rule, code: v.code, structure, offset, message: v.field ? `${v.field}: ${v.message}` : v.message };
      if (v.rule === "RESERVED") this.warning(init);
      else this.error(init);
    }
  }

  /** How many problems of `rule` were found (listed or not). */
  count(rule: string, severity: Severity = "error"): number {
    return this.perRule.get(`${severity}:${rule}`) ?? 0;
  }

  /** Problems found but not listed, per severity and rule. */
  omitted(severity: Severity): Array<{ rule: string; count: number }> {
    const out: Array<{ rule: string; count: number }> = [];
    for (const [key, count] of this.perRule) {
      const [kind, rule] = key.split(":") as [Severity, string];
      if (kind === severity && count > MAX_LISTED_PER_RULE) out.push({ rule, count: count - MAX_LISTED_PER_RULE });
    }
    return out;
  }

  private add(list: Problem[], severity: Severity, init: ProblemInit): void {
    const key = `${severity}:${init.rule}`;
    const seen = (this.perRule.get(key) ?? 0) + 1;
    this.perRule.set(key, seen);
    if (seen > MAX_LISTED_PER_RULE) return;
    list.push({
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
