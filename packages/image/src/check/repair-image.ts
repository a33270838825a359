// What a repair fixes: only what can be put right without guessing and
// without losing data.
//
// 1. A log to replay: opening the file read-write replays it (MS-VHDX 2.3.3)
//    and clears LogGuid through the header update protocol.
// 2. One damaged header slot: rewritten from the current header with the
//    header update protocol (MS-VHDX 2.2.2.1): the damaged slot gets the next
//    sequence number and a new FileWriteGuid, flush, then the other slot the
//    one after, flush. DataWriteGuid is kept: the virtual disk did not change,
//    and differencing children are linked to it.
// 3. One damaged region table copy, or two intact copies that differ: the
//    copy in use (intact, breaking no rule) is copied byte for byte over the
//    other, then flushed. Region table changes normally go through the log,
//    but a torn write here leaves the sound copy untouched, and readers fall
//    back to it, so no state in between can lose the layout.
//
// Never repaired (reported only): BAT entries pointing past the end of the
// file, into structures or over other blocks, invalid states, missing sector
// bitmaps (any change there drops data or invents it), and leaked space
// (harmless; compactImage or a conversion reclaims it).
import { isNilGuid, randomGuid } from "@vhdx/guid";
import {
  REGION_TABLE_1_OFFSET,
  REGION_TABLE_2_OFFSET,
  REGION_TABLE_SIZE,
  VhdxError,
  encodeHeader,
} from "@vhdx/structs";
import { checkOptionKeys } from "../internal/options.js";
import { openImage } from "../open/open-image.js";
import type { ParentCandidate, ParentResolver } from "../open/parents.js";
import type { RandomAccessSource } from "../sources/source.js";
import { readHeaderArea, sameBytes } from "./bytes.js";
import { currentHeader, inspectHeaderSlots } from "./header-slots.js";
import { type CopyState, inspectRegionTables, isSound } from "./region-tables.js";
import type { CheckRule } from "./rules.js";

export interface CheckRepair {
  /** The rule of the finding the repair was for. */
  rule: CheckRule;
  message: string;
}

export interface RepairResult {
  repaired: CheckRepair[];
  /** Repairs tried that did not succeed. */
  failed: CheckRepair[];
}

export interface RepairOptions {
  /** As for openImage: the parents of a differencing disk opened to replay its log. */
  parents?: readonly ParentCandidate[];
  parentResolver?: ParentResolver;
  allowParentOutsideTree?: boolean;
}

const REPAIR_OPTION_KEYS = [
  "parents",
  "parentResolver",
  "allowParentOutsideTree",
] as const satisfies readonly (keyof RepairOptions)[];

/** What differs between hosts: how the file is read, opened read-write, and written. */
export interface RepairHost {
  /** The first 320 KiB as they are now. */
  readHeaderArea(): Promise<Uint8Array>;
  /** Opens the image read-write (which replays its log) and closes it. */
  openReadWrite(): Promise<void>;
  /** Runs `work` with the file open for writing. */
  withWritable<T>(work: (source: RandomAccessSource) => Promise<T>): Promise<T>;
}

/**
 * Repairs what checkImage reports as repairable in the image in `source`
 * (writable), looking at the file afresh rather than at a report. Check
 * again afterwards for what is left. The source stays open.
 */
export async function repairImage(source: RandomAccessSource, options: RepairOptions = {}): Promise<RepairResult> {
  checkOptionKeys("repairImage", options, REPAIR_OPTION_KEYS);
  if (source.readOnly) throw new VhdxError("READ_ONLY", `cannot repair ${source.name}: the source is read-only`);
  return runRepair({
    readHeaderArea: () => readHeaderArea(source),
    openReadWrite: async () => (await openImage(source, { ...options, readOnly: false })).close(),
    withWritable: (work) => work(source),
  });
}

export async function runRepair(host: RepairHost): Promise<RepairResult> {
  const result: RepairResult = { repaired: [], failed: [] };
  if (!(await replayLog(host, result))) return result;
  await host.withWritable(async (source) => {
    await rewriteDamagedHeader(source, await readHeaderArea(source), result);
    await restoreRegionTable(source, await readHeaderArea(source), result);
  });
  return result;
}

/** Replays a log left to replay; false when it could not be replayed (nothing more is tried). */
async function replayLog(host: RepairHost, result: RepairResult): Promise<boolean> {
  const header = currentHeader(inspectHeaderSlots(await host.readHeaderArea()));
  if (header === null || isNilGuid(header.logGuid)) return true;
  const done = "replayed the log into the file and cleared LogGuid";
  try {
    await host.openReadWrite();
    result.repaired.push({ rule: "LOG_REPLAY_NEEDED", message: done });
    return true;
  } catch (error) {
    if (!VhdxError.isInstance(error)) throw error;
    const after = currentHeader(inspectHeaderSlots(await host.readHeaderArea()));
    if (after !== null && isNilGuid(after.logGuid)) {
      result.repaired.push({
        rule: "LOG_REPLAY_NEEDED",
        message: `${done} (opening the image then failed: ${error.message})`,
      });
      return true;
    }
    result.failed.push({ rule: "LOG_REPLAY_NEEDED", message: `could not replay the log: ${error.message}` });
    return false;
  }
}

/** Rewrites the one damaged header slot from the other, with the header update protocol. */
async function rewriteDamagedHeader(source: RandomAccessSource, head: Uint8Array, result: RepairResult): Promise<void> {
  const slots = inspectHeaderSlots(head);
  const valid = slots.filter((s) => s.header !== null);
  if (valid.length !== 1) return;
  const current = valid[0]!;
  const damaged = slots.find((s) => s.header === null)!;
  const header = current.header!;
  if (header.version !== 1 || !isNilGuid(header.logGuid)) return;
  const fileWriteGuid = randomGuid();
  let sequenceNumber = header.sequenceNumber;
  for (const target of [damaged, current]) {
    sequenceNumber += 1n;
    await source.write(encodeHeader({ ...header, fileWriteGuid, sequenceNumber }), target.offset);
    await source.flush();
  }
  result.repaired.push({
    rule: "HEADER_DAMAGED",
    message: `rewrote header ${damaged.slot} (@0x${damaged.offset.toString(16)}) from the current header ${current.slot} with the header update protocol (sequence numbers ${header.sequenceNumber + 1n} and ${header.sequenceNumber + 2n})`,
  });
}

/** Copies the region table copy in use over a damaged or differing other copy, when the one in use is sound. */
async function restoreRegionTable(source: RandomAccessSource, head: Uint8Array, result: RepairResult): Promise<void> {
  const [one, two] = inspectRegionTables(head, currentHeader(inspectHeaderSlots(head)));
  const pair = copyToRestore(head, one, two);
  if (pair === null) return;
  const [from, to] = pair;
  const rule = to.damage !== null ? "REGION_TABLE_DAMAGED" : "REGION_TABLES_DIFFER";
  if (!isSound(from)) {
    result.failed.push({
      rule,
      message: `left region table copy ${to.copy} alone: copy ${from.copy} breaks rules itself (${from.problems.map((p) => p.message).join("; ")})`,
    });
    return;
  }
  await source.write(head.slice(from.offset, from.offset + REGION_TABLE_SIZE), to.offset);
  await source.flush();
  result.repaired.push({
    rule,
    message: `rewrote region table copy ${to.copy} (@0x${to.offset.toString(16)}) from copy ${from.copy}`,
  });
}

/** [from, to]: the intact copy and the damaged one, or copy 1 and copy 2 when both are intact but differ. */
function copyToRestore(head: Uint8Array, one: CopyState, two: CopyState): [CopyState, CopyState] | null {
  if (one.damage !== null && two.damage === null) return [two, one];
  if (two.damage !== null && one.damage === null) return [one, two];
  if (
    one.damage === null &&
    two.damage === null &&
    !sameBytes(head, REGION_TABLE_1_OFFSET, REGION_TABLE_2_OFFSET, REGION_TABLE_SIZE)
  )
    return [one, two];
  return null;
}
