// A read-only view of a source with a log replay applied in memory (MS-VHDX
// 2.3.3): what a reader must see of a file whose writer stopped before it
// applied its log, without changing a byte of the file.
import { type RandomAccessSource, checkBuffer, checkPosition } from "./source.js";
import { ReadOnlySource } from "./read-only-source.js";

export type OverlayOperation =
  | { kind: "write"; fileOffset: number; data: Uint8Array }
  | { kind: "zero"; fileOffset: number; length: number };

export class OverlaySource extends ReadOnlySource {
  readonly name: string;
  private readonly operationsEnd: number;

  /**
   * `operations` are applied in order over `base`; the file reads as at least
   * `minimumSize` bytes long (a replay grows the file to LastFileOffset).
   */
  constructor(
    private readonly base: RandomAccessSource,
    private readonly operations: readonly OverlayOperation[],
    private readonly minimumSize: number,
  ) {
    super();
    this.name = `${base.name} (log replayed in memory)`;
    // As on disk, only data grows the file: zeros past its end are zeros already.
    this.operationsEnd = operations.reduce(
      (max, op) => (op.kind === "write" ? Math.max(max, op.fileOffset + op.data.length) : max),
      0,
    );
  }

  async size(): Promise<number> {
    return Math.max(await this.base.size(), this.minimumSize, this.operationsEnd);
  }

  async read(buffer: Uint8Array, position: number): Promise<number> {
    checkBuffer(buffer, "read");
    checkPosition(position, buffer.length, "read");
    const length = Math.max(0, Math.min(buffer.length, (await this.size()) - position));
    const target = buffer.subarray(0, length);
    const fromBase = await this.base.read(target, position);
    target.fill(0, fromBase);
    for (const op of this.operations) applyOver(target, position, op);
    return length;
  }

  close(): Promise<void> {
    return this.base.close();
  }
}

function operationLength(op: OverlayOperation): number {
  return op.kind === "write" ? op.data.length : op.length;
}

/** Copies the part of `op` that falls inside [position, position + target.length). */
function applyOver(target: Uint8Array, position: number, op: OverlayOperation): void {
  const start = Math.max(position, op.fileOffset);
  const end = Math.min(position + target.length, op.fileOffset + operationLength(op));
  if (start >= end) return;
  if (op.kind === "zero") target.fill(0, start - position, end - position);
  else target.set(op.data.subarray(start - op.fileOffset, end - op.fileOffset), start - position);
}
