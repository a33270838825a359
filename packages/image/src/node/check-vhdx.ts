// Checking and repairing VHDX files by path: checkImage and repairImage with
// the file locked as openVhdx locks it, parents found on disk, and memcmp for
// the BAT's uniform runs.
import { Buffer } from "node:buffer";
import { CHECK_OPTION_KEYS, type CheckOptions } from "../check/check-image.js";
import { type RepairResult, runRepair } from "../check/repair-image.js";
import type { CheckReport } from "../check/report.js";
import { runCheck } from "../check/run-check.js";
import { readHeaderArea } from "../check/bytes.js";
import { checkOptionKeys } from "../internal/options.js";
import { FileSource } from "./file-source.js";
import { openVhdx } from "./open-vhdx.js";

export interface CheckVhdxOptions extends Omit<CheckOptions, "parentResolver"> {
  /** Check the file even while another program writes it (qemu's -U); what is read may be inconsistent. */
  forceShare?: boolean;
}

const CHECK_VHDX_OPTION_KEYS = [
  ...CHECK_OPTION_KEYS.filter((key) => key !== "parentResolver"),
  "forceShare",
] as const satisfies readonly (keyof CheckVhdxOptions)[];

const nativeBytesEqual = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(a, b) === 0;

/** checkImage on the file at `path`, which is read under a shared lock (see FileSource). */
export async function checkVhdx(path: string, options: CheckVhdxOptions = {}): Promise<CheckReport> {
  checkOptionKeys("checkVhdx", options, CHECK_VHDX_OPTION_KEYS);
  const { onProgress, forceShare = false, ...open } = options;
  const file = await FileSource.open(path, { forceShare });
  try {
    return await runCheck(file, {
      open: () => openVhdx(path, { ...open, forceShare }),
      bytesEqual: nativeBytesEqual,
      onProgress,
    });
  } finally {
    await file.close();
  }
}

/**
 * repairImage on the file at `path`. Each step locks the file on its own: a
 * log is replayed by openVhdx's read-write open, the header and region table
 * repairs write through a FileSource opened after it closed.
 */
export async function repairVhdx(path: string): Promise<RepairResult> {
  return runRepair({
    readHeaderArea: () => withFile(path, false, readHeaderArea),
    openReadWrite: async () => (await openVhdx(path, { readOnly: false })).close(),
    withWritable: (work) => withFile(path, true, work),
  });
}

async function withFile<T>(path: string, writable: boolean, work: (source: FileSource) => Promise<T>): Promise<T> {
  const source = await FileSource.open(path, { readOnly: !writable });
  try {
    return await work(source);
  } finally {
    await source.close();
  }
}
