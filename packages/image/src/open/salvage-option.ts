// openImage's `salvage` and `onSalvage` options (see read/salvage.ts): checked
// once, and one SalvageLog for the whole chain, carried to the parents
// openImage opens under a symbol key, which option checks do not see.
import { VhdxError } from "@vhdx/structs";
import { type OnSalvage, SalvageLog } from "../read/salvage.js";

export interface SalvageOptions {
  /**
   * Read-only opens only: a block whose BAT entry cannot be trusted (bad
   * state, misplaced, its sector bitmap missing or unreadable) reads as zeros
   * instead of failing the read, and so does a payload read that fails; each
   * range is listed in `image.salvaged`. Parents found by openImage salvage
   * too, into the same list. Default false.
   */
  salvage?: boolean;
  /** With `salvage`: hears each range as it is first read as zeros. */
  onSalvage?: OnSalvage;
}

const CHAIN_SALVAGE_LOG = Symbol("salvage log of the chain");

type Carrying<T> = T & { [CHAIN_SALVAGE_LOG]?: SalvageLog };

/** `options` carrying the chain's SalvageLog when they ask for salvage (the one a child made, for a parent). */
export function withSalvageLog<T extends SalvageOptions>(options: T, readOnly: boolean): T {
  const carried = (options as Carrying<T>)[CHAIN_SALVAGE_LOG];
  if (carried !== undefined) return options;
  const { salvage, onSalvage } = options;
  if (salvage !== undefined && typeof salvage !== "boolean")
    throw new TypeError("openImage: salvage must be a boolean");
  if (onSalvage !== undefined && typeof onSalvage !== "function")
    throw new TypeError("openImage: onSalvage must be a function");
  if (salvage !== true) {
    if (onSalvage !== undefined) throw new VhdxError("INVALID_ARGUMENT", "openImage: onSalvage needs salvage: true");
    return options;
  }
  if (!readOnly) {
    throw new VhdxError(
      "INVALID_ARGUMENT",
      "openImage: salvage is for read-only opens; a writer must not build on blocks it cannot trust",
    );
  }
  return { ...options, [CHAIN_SALVAGE_LOG]: new SalvageLog(onSalvage) };
}

/** The chain's SalvageLog in options made by withSalvageLog, or null without salvage. */
export function salvageLogOf(options: SalvageOptions): SalvageLog | null {
  return (options as Carrying<SalvageOptions>)[CHAIN_SALVAGE_LOG] ?? null;
}
