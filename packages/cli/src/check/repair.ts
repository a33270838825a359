// What `vhdx check --repair` fixes: only what can be put right without
// guessing and without losing data.
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
// (harmless; `vhdx compact` or `convert` reclaims it).
import { isNilGuid, randomGuid } from "@vhdx/guid";
import { VhdxError } from "@vhdx/image";
import { FileSource, openVhdx } from "@vhdx/image/node";
import { REGION_TABLE_1_OFFSET, REGION_TABLE_2_OFFSET, REGION_TABLE_SIZE, encodeHeader } from "@vhdx/structs";
import { HEADER_AREA_LENGTH, inspectHeaderSlots, inspectRegionTables, isSound, readPadded, sameBytes } from "./header-section.js";
import type { Repair } from "./scan.js";

export interface RepairOutcome {
  repaired: Repair[];
  /** Repairs tried that did not succeed. */
  failed: Repair[];
}

export async function repairFile(path: string): Promise<RepairOutcome> {
  const repaired: Repair[] = [];
  const failed: Repair[] = [];

  // 1. The log.
  const before = inspectHeaderSlots(await readHead(path));
  const current = currentOf(before);
  if (current !== null && !isNilGuid(current.logGuid)) {
    try {
      const image = await openVhdx(path, { readOnly: false });
      await image.close();
      repaired.push({ rule: "LOG_REPLAY_NEEDED", message: "replayed the log into the file and cleared LogGuid" });
    } catch (error) {
      if (!VhdxError.isInstance(error)) throw error;
      const after = currentOf(inspectHeaderSlots(await readHead(path)));
      if (after !== null && isNilGuid(after.logGuid)) {
        repaired.push({ rule: "LOG_REPLAY_NEEDED", message: `replayed the log into the file and cleared LogGuid (opening the image then failed: ${error.message})` });
      } else {
        failed.push({ rule: "LOG_REPLAY_NEEDED", message: `could not replay the log: ${error.message}` });
        return { repaired, failed };
      }
    }
  }

  const source = await FileSource.open(path, { readOnly: false });
  try {
    let head = await readPadded(source, 0, HEADER_AREA_LENGTH);

    // 2. A damaged header slot.
    const slots = inspectHeaderSlots(head);
    const valid = slots.filter((s) => s.header !== null);
    if (valid.length === 1) {
      let latest = valid[0]!;
      const damaged = slots.find((s) => s.header === null)!;
      const header = latest.header!;
      if (header.version === 1 && isNilGuid(header.logGuid)) {
        const fileWriteGuid = randomGuid();
        for (const target of [damaged, latest]) {
          const sequenceNumber = latest.header!.sequenceNumber + 1n;
          const bytes = encodeHeader({ ...header, fileWriteGuid, sequenceNumber });
          await source.write(bytes, target.offset);
          await source.flush();
          latest = { ...target, header: { ...header, fileWriteGuid, sequenceNumber }, damage: null };
        }
        repaired.push({
          rule: "HEADER_DAMAGED",
          message: `rewrote header ${damaged.slot} (@0x${damaged.offset.toString(16)}) from the current header ${valid[0]!.slot} with the header update protocol (sequence numbers ${header.sequenceNumber + 1n} and ${header.sequenceNumber + 2n})`,
        });
        head = await readPadded(source, 0, HEADER_AREA_LENGTH);
      }
    }

    // 3. The region table copies.
    const header = currentOf(inspectHeaderSlots(head));
    const [one, two] = inspectRegionTables(head, header);
    let from: typeof one | null = null;
    let to: typeof one | null = null;
    if (one.damage !== null && two.damage === null) [from, to] = [two, one];
    else if (two.damage !== null && one.damage === null) [from, to] = [one, two];
    else if (one.damage === null && two.damage === null && !sameBytes(head, REGION_TABLE_1_OFFSET, REGION_TABLE_2_OFFSET, REGION_TABLE_SIZE)) [from, to] = [one, two];
    if (from !== null && to !== null) {
      if (isSound(from)) {
        await source.write(head.slice(from.offset, from.offset + REGION_TABLE_SIZE), to.offset);
        await source.flush();
        repaired.push({
          rule: to.damage !== null ? "REGION_TABLE_DAMAGED" : "REGION_TABLES_DIFFER",
          message: `rewrote region table copy ${to.copy} (@0x${to.offset.toString(16)}) from copy ${from.copy}`,
        });
      } else {
        failed.push({
          rule: to.damage !== null ? "REGION_TABLE_DAMAGED" : "REGION_TABLES_DIFFER",
          message: `left region table copy ${to.copy} alone: copy ${from.copy} breaks rules itself (${from.problems.map((p) => p.message).join("; ")})`,
        });
      }
    }
  } finally {
    await source.close();
  }
  return { repaired, failed };
}

async function readHead(path: string): Promise<Uint8Array> {
  const source = await FileSource.open(path);
  try {
    return await readPadded(source, 0, HEADER_AREA_LENGTH);
  } finally {
    await source.close();
  }
}

function currentOf(slots: ReturnType<typeof inspectHeaderSlots>) {
  const [a, b] = slots;
  if (a.header === null) return b.header;
  if (b.header === null) return a.header;
  return b.header.sequenceNumber > a.header.sequenceNumber ? b.header : a.header;
}
