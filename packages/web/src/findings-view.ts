// The findings of checkImage as a table: severity, code, message, offset.
import type { CheckReport } from "@vhdx/image";
import { h, table } from "./dom.js";
import { formatSize, hex } from "./format.js";

export function renderFindings(report: CheckReport): HTMLElement {
  const findings = [...report.errors, ...report.warnings];
  const summary = h(
    "p",
    { "data-field": "check-summary" },
    report.errorCount === 0 && report.warningCount === 0
      ? "No findings: every structural rule of MS-VHDX holds."
      : `${report.errorCount} error(s), ${report.warningCount} warning(s)` +
          (report.omittedErrors + report.omittedWarnings > 0
            ? ` (${report.omittedErrors + report.omittedWarnings} more of the same rules not listed)`
            : ""),
    report.leakedBytes ? ` ${formatSize(report.leakedBytes)} of the file is leaked (nothing refers to it).` : "",
  );
  const section = h("div", { class: "findings", "data-findings": findings.length }, summary);
  if (findings.length === 0) return section;
  section.append(
    table(
      "Findings",
      ["severity", "code", "message", "offset"],
      findings.map((finding) => [
        h("span", { class: `severity ${finding.severity}` }, finding.severity),
        h("code", {}, finding.code),
        finding.message,
        finding.offset === null ? "" : hex(finding.offset),
      ]),
    ),
  );
  return section;
}
