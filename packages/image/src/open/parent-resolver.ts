// The interface a host implements to say where a differencing disk's parent
// locator leads (MS-VHDX 2.6.2.6.3): files in Node (node/open-vhdx.ts), URLs
// for a child read over HTTP (http-parents.ts), or the caller's own.
import type { RandomAccessSource } from "../sources/source.js";

/** A place a locator points at, as the host resolver found it. */
export interface ParentLocation {
  /** For messages: the locator key and the host path. */
  description: string;
  /** A stable identity (a real path) to detect a chain that loops. */
  identity: string;
  /** Why this place may not be used (e.g. outside the child's folder), or undefined. */
  refusal?: string;
  open(): Promise<RandomAccessSource>;
}

/** How a host turns locator paths and path candidates into sources: see @vhdx/image/node. */
export interface ParentResolver {
  locate(
    locator: Readonly<Record<string, string>>,
    child: RandomAccessSource,
    allowOutsideTree: boolean,
  ): Promise<ParentLocation[]>;
  openPath(path: string): Promise<{ source: RandomAccessSource; identity: string }>;
}
