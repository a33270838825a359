// checkImage: every structural rule of MS-VHDX over a source, in any host
// (a file in Node, a Blob in a browser, bytes in memory). See run-check.ts
// for what is checked and how a damaged file is still inspected.
import { checkOptionKeys } from "../internal/options.js";
import { openImage } from "../open/open-image.js";
import type { ParentCandidate, ParentResolver } from "../open/parents.js";
import type { RandomAccessSource } from "../sources/source.js";
import { portableBytesEqual } from "./bat-stream.js";
import type { CheckReport } from "./report.js";
import { runCheck } from "./run-check.js";

export interface CheckOptions {
  /** Candidates for the parents of a differencing chain, as for openImage. */
  parents?: readonly ParentCandidate[];
  /** How locator paths are opened, as for openImage. */
  parentResolver?: ParentResolver;
  /** Let a parent locator lead outside the child's folder (default false). */
  allowParentOutsideTree?: boolean;
  /** Called with 0 before the BAT is read, then as it is read (entries done, entries in all). */
  onProgress?: (done: number, total: number) => void;
}

export const CHECK_OPTION_KEYS = [
  "parents",
  "parentResolver",
  "allowParentOutsideTree",
  "onProgress",
] as const satisfies readonly (keyof CheckOptions)[];

/**
 * Checks the VHDX image in `source` (read-only: nothing is written) and
 * reports every rule it breaks. A damaged header or region table copy, a log
 * left to replay, a broken parent linkage are findings in the report, not
 * errors thrown. Throws NOT_VHDX (UNSUPPORTED_FORMAT for another image
 * format) when the source is not a VHDX file at all, BAD_SIGNATURE when only
 * its file identifier is damaged, and the source's own errors (IO_ERROR). The
 * source stays open.
 */
export async function checkImage(source: RandomAccessSource, options: CheckOptions = {}): Promise<CheckReport> {
  checkOptionKeys("checkImage", options, CHECK_OPTION_KEYS);
  const { onProgress, ...open } = options;
  return runCheck(source, {
    open: () => openImage(source, open),
    bytesEqual: portableBytesEqual,
    onProgress,
  });
}
