// Replaying the log at open (MS-VHDX 2.3.3). Read-only opens apply the plan
// in memory through an OverlaySource and never write; read-write opens apply
// it to the file, flush, grow the file to LastFileOffset, and clear LogGuid
// through the header update protocol, before anything else is read.
import { type ReplayPlan, planReplay } from "@vhdx/log";
import { NIL_GUID, randomGuid } from "@vhdx/guid";
import { HEADER_SECTION_SIZE, type Header, MiB, REGION_TABLE_1_OFFSET, VhdxError } from "@vhdx/structs";
import { OverlaySource } from "../sources/overlay-source.js";
import { type RandomAccessSource, readBytes } from "../sources/source.js";
import { type CurrentHeader, updateHeaders } from "../write/header-update.js";

/** Logs larger than this are refused rather than read into memory (Windows and QEMU write 1 MiB). */
const MAX_LOG_LENGTH = 256 * MiB;
/**
 * No replay may make the file longer than this: the largest disk the format
 * allows (64 TiB) with its BAT, sector bitmaps, log and metadata fits well
 * inside 128 TiB, and a hostile LastFileOffset near 2^53 must not make every
 * reader that sizes something by the file (a map of its space) blow up.
 */
const MAX_REPLAYED_FILE_SIZE = 2 ** 47;

const ZERO_CHUNK = MiB;

export async function readReplayPlan(
  source: RandomAccessSource,
  header: Header,
  fileSize: number,
): Promise<ReplayPlan> {
  const { logOffset, logLength } = header;
  const where = { structure: "header", field: "logOffset", offset: logOffset };
  if (logLength === 0 || logOffset % MiB !== 0 || logLength % MiB !== 0 || logOffset < HEADER_SECTION_SIZE) {
    throw new VhdxError(
      "LOG_CORRUPT",
      `the log at 0x${logOffset.toString(16)} of 0x${logLength.toString(16)} bytes is not a valid 1 MiB-aligned extent past the header section`,
      where,
    );
  }
  if (logLength > MAX_LOG_LENGTH) {
    throw new VhdxError(
      "UNSUPPORTED",
      `the log is ${logLength} bytes; logs over ${MAX_LOG_LENGTH} bytes are not replayed`,
      where,
    );
  }
  if (logOffset + logLength > fileSize) {
    throw new VhdxError(
      "TRUNCATED",
      `the log ends at 0x${(logOffset + logLength).toString(16)}, past the end of the file (0x${fileSize.toString(16)})`,
      where,
    );
  }
  const ring = await readBytes(source, logOffset, logLength, "log");
  const plan = planReplay(ring, header.logGuid, fileSize, logOffset);
  checkReplayedSize(plan, logOffset);
  for (const op of plan.operations)
    checkReplayTarget(op.fileOffset, op.kind === "write" ? op.data.length : op.length, header);
  return plan;
}

function checkReplayedSize(plan: ReplayPlan, logOffset: number): void {
  const size = Math.max(plan.fileSize, plan.operationsEnd);
  if (size > MAX_REPLAYED_FILE_SIZE) {
    const detail = `replaying the log would make the file 0x${size.toString(16)} bytes long (LastFileOffset or a write's end), past the 0x${MAX_REPLAYED_FILE_SIZE.toString(16)} any VHDX needs`;
    throw new VhdxError("LOG_CORRUPT", detail, {
      structure: "log entry header",
      field: "lastFileOffset",
      offset: logOffset + plan.sequence.head.offset,
    });
  }
}

/**
 * The log carries metadata (region tables, metadata, BAT, bitmaps), never the
 * file identifier, the headers or the log itself: an entry that would write
 * there is a corrupt or hostile log, not something to replay.
 */
function checkReplayTarget(offset: number, length: number, header: Header): void {
  const forbidden = [
    { name: "the file identifier and headers", start: 0, end: REGION_TABLE_1_OFFSET },
    { name: "the log", start: header.logOffset, end: header.logOffset + header.logLength },
  ];
  for (const area of forbidden) {
    if (offset < area.end && area.start < offset + length) {
      throw new VhdxError(
        "LOG_CORRUPT",
        `a log entry writes 0x${offset.toString(16)}-0x${(offset + length).toString(16)}, over ${area.name}`,
        {
          structure: "log",
          offset: header.logOffset,
        },
      );
    }
  }
}

/** The file as the log says it is, without writing: reads see the replayed contents. */
export function replayInMemory(source: RandomAccessSource, plan: ReplayPlan): RandomAccessSource {
  return new OverlaySource(source, plan.operations, plan.fileSize);
}

/** Applies the plan to the file and clears LogGuid; returns the new current header. */
export async function replayOnDisk(
  source: RandomAccessSource,
  plan: ReplayPlan,
  current: CurrentHeader,
): Promise<CurrentHeader> {
  const sizeBefore = await source.size();
  for (const op of plan.operations) {
    if (op.kind === "write") await source.write(op.data, op.fileOffset);
    else await writeZeros(source, op.fileOffset, op.length, sizeBefore);
  }
  if ((await source.size()) < plan.fileSize) await source.truncate(plan.fileSize);
  await source.flush();
  return updateHeaders(source, current, { logGuid: NIL_GUID, fileWriteGuid: randomGuid() });
}

/**
 * Zeros inside the file as it was are written; past its end nothing is, since
 * whatever grows the file there (a later write, or LastFileOffset) adds zeros.
 * So a zero descriptor's length never decides how much we write.
 */
async function writeZeros(source: RandomAccessSource, offset: number, length: number, fileSize: number): Promise<void> {
  const end = Math.min(offset + length, fileSize);
  if (end <= offset) return;
  const zeros = new Uint8Array(Math.min(ZERO_CHUNK, end - offset));
  for (let at = offset; at < end; at += zeros.length) {
    await source.write(zeros.subarray(0, Math.min(zeros.length, end - at)), at);
  }
}
