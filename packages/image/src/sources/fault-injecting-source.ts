// A memory source that behaves like a disk with a volatile write cache, for
// crash tests. Writes are visible at once but durable only after flush(); a
// power cut keeps the durable bytes and, depending on the mode, none, some or
// a torn part of the writes that were not flushed. It can also fail one chosen
// operation, or cut the power at a chosen operation.
import { VhdxError } from "@vhdx/structs";
import { MemorySource } from "./memory-source.js";
import type { RandomAccessSource } from "./source.js";

export interface FaultInjectingOptions {
  name?: string;
  /** Cut the power when this many mutating operations (write, flush, truncate) have completed. */
  cutAfterOperations?: number;
  /** Make the mutating operation with this index (0-based) fail once with IO_ERROR. */
  failOperation?: number;
  /** Make every read fail with IO_ERROR. */
  failReads?: boolean;
  /** Seed for the choices of the "keep-random" and "tear" modes. */
  seed?: number;
}

/**
 * What survives a power cut of the writes that were not flushed:
 * - "drop": none of them;
 * - "keep-random": a random subset, in any order (a cache may write back out of order);
 * - "tear": all but the last, and of the last only a prefix of whole 512-byte sectors.
 */
export type PowerCutMode = "drop" | "keep-random" | "tear";

type PendingOperation = { kind: "write"; position: number; data: Uint8Array } | { kind: "truncate"; length: number };

const SECTOR = 512;

export class FaultInjectingSource implements RandomAccessSource {
  readonly name: string;
  readonly readOnly = false;
  private readonly current: MemorySource;
  private readonly durable: MemorySource;
  private pending: PendingOperation[] = [];
  private completed = 0;
  private cut = false;
  private failOperation: number | undefined;
  private readonly cutAfterOperations: number | undefined;
  private readonly failReads: boolean;
  private readonly random: () => number;

  constructor(initial: Uint8Array = new Uint8Array(0), options: FaultInjectingOptions = {}) {
    this.name = options.name ?? "fault-injecting memory";
    this.failOperation = options.failOperation;
    this.cutAfterOperations = options.cutAfterOperations;
    this.failReads = options.failReads ?? false;
    this.current = new MemorySource(initial.slice());
    this.durable = new MemorySource(initial.slice());
    this.random = seededRandom(options.seed ?? 1);
  }

  /** Mutating operations completed so far: run a workload once to learn how many cut points it has. */
  get operations(): number {
    return this.completed;
  }

  get powerIsCut(): boolean {
    return this.cut;
  }

  async read(buffer: Uint8Array, position: number): Promise<number> {
    this.checkPower();
    if (this.failReads) throw injected(`read at ${position}`);
    return this.current.read(buffer, position);
  }

  async write(data: Uint8Array, position: number): Promise<void> {
    this.beginMutation(`write at ${position}`);
    await this.current.write(data, position);
    this.pending.push({ kind: "write", position, data: data.slice() });
    this.completed++;
  }

  async truncate(length: number): Promise<void> {
    this.beginMutation(`truncate to ${length}`);
    await this.current.truncate(length);
    this.pending.push({ kind: "truncate", length });
    this.completed++;
  }

  async flush(): Promise<void> {
    this.beginMutation("flush");
    for (const operation of this.pending) await applyTo(this.durable, operation);
    this.pending = [];
    this.completed++;
  }

  async size(): Promise<number> {
    this.checkPower();
    return this.current.size();
  }

  async close(): Promise<void> {
    await this.current.close();
  }

  /** The bytes a disk would hold after losing power now, with the given mode. */
  async powerCut(mode: PowerCutMode = "drop"): Promise<Uint8Array> {
    this.cut = true;
    const survivor = new MemorySource(this.durable.bytes().slice());
    for (const operation of this.survivingOperations(mode)) await applyTo(survivor, operation);
    return survivor.bytes().slice();
  }

  /** The bytes that are durable now (everything flushed). */
  durableBytes(): Uint8Array {
    return this.durable.bytes().slice();
  }

  private survivingOperations(mode: PowerCutMode): PendingOperation[] {
    if (mode === "drop" || this.pending.length === 0) return [];
    if (mode === "keep-random") return this.pending.filter(() => this.random() < 0.5);
    const last = this.pending[this.pending.length - 1]!;
    const kept = this.pending.slice(0, -1);
    if (last.kind === "write") {
      const sectors = Math.floor(this.random() * Math.ceil(last.data.length / SECTOR));
      kept.push({ ...last, data: last.data.subarray(0, Math.min(last.data.length, sectors * SECTOR)) });
    }
    return kept;
  }

  private beginMutation(what: string): void {
    this.checkPower();
    if (this.completed === this.failOperation) {
      this.failOperation = undefined;
      throw injected(what);
    }
    if (this.completed === this.cutAfterOperations) {
      this.cut = true;
      throw injected(`power cut before ${what}`);
    }
  }

  private checkPower(): void {
    if (this.cut) throw injected("the power is cut");
  }
}

function injected(what: string): VhdxError {
  return new VhdxError("IO_ERROR", `injected fault: ${what}`);
}

async function applyTo(target: MemorySource, operation: PendingOperation): Promise<void> {
  if (operation.kind === "write") await target.write(operation.data, operation.position);
  else await target.truncate(operation.length);
}

/** A small deterministic generator (mulberry32) so a failing case can be replayed from its seed. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
