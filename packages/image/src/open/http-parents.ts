// Parents over HTTP: a child read through an HttpSource finds its parent by
// resolving the locator's relative_path (MS-VHDX 2.6.2.6.3, a Windows path)
// against the child's URL, and a URL in `options.parents` opens as an
// HttpSource. Parents go through the child's fetch; same origin only unless
// the caller allows any (allowParentOutsideTree). The locator's other keys
// are paths on the machine that made the image, never URLs here.
import { HttpSource, absoluteUrl } from "../sources/http-source.js";
import type { RandomAccessSource } from "../sources/source.js";
import type { ParentLocation, ParentResolver } from "./parent-resolver.js";

const NOT_URL_KEYS = ["absolute_win32_path", "volume_path"] as const;

/** The resolver openImage uses for a child read over HTTP when the caller passes none. */
const httpParentResolver: ParentResolver = {
  async locate(locator, child, allowOtherOrigins) {
    return child instanceof HttpSource ? httpParentLocations(locator, child, allowOtherOrigins) : [];
  },
  async openPath(path) {
    const url = absoluteUrl(path);
    if (!isHttpUrl(path) || url === null) throw new TypeError(`parents: ${path} is not an http(s) URL`);
    return { source: new HttpSource(url.href), identity: url.href };
  },
};

/** httpParentResolver for an HttpSource child, else undefined (no resolver: only `parents` are tried). */
export function defaultParentResolver(child: RandomAccessSource): ParentResolver | undefined {
  return child instanceof HttpSource ? httpParentResolver : undefined;
}

/** Whether a string in `options.parents` is a URL to open over HTTP rather than a path. */
export function isHttpUrl(candidate: string): boolean {
  return /^https?:\/\//i.test(candidate);
}

/** A URL candidate from `options.parents`, opened through the child's fetch when the child is an HttpSource. */
export function openUrlCandidate(
  url: string,
  child: RandomAccessSource,
): { source: HttpSource; identity: string; description: string } {
  const href = absoluteUrl(url)?.href ?? url;
  const source = child instanceof HttpSource ? child.forUrl(href) : new HttpSource(href);
  return { source, identity: href, description: `parent ${url}` };
}

function httpParentLocations(
  locator: Readonly<Record<string, string>>,
  child: HttpSource,
  allowOtherOrigins: boolean,
): ParentLocation[] {
  const locations: ParentLocation[] = [];
  const written = locator.relative_path;
  if (written) locations.push(relativePathLocation(written, child, allowOtherOrigins));
  for (const key of NOT_URL_KEYS) {
    const path = locator[key];
    if (path)
      locations.push(refused(key, path, "a path on the machine that made the image, not a URL: skipped over HTTP"));
  }
  return locations;
}

/** relative_path resolved against the child's URL, refused on another origin unless allowed. */
function relativePathLocation(written: string, child: HttpSource, allowOtherOrigins: boolean): ParentLocation {
  const childUrl = absoluteUrl(child.url);
  const url = childUrl === null ? null : parseUrl(relativePathAsUrl(written), childUrl);
  if (childUrl === null || url === null)
    return refused("relative_path", written, "does not make a URL with the child's");
  const otherOrigin = url.origin !== childUrl.origin && !allowOtherOrigins;
  return {
    description: `relative_path ${JSON.stringify(written)} (${url.href})`,
    identity: url.href,
    ...(otherOrigin
      ? { refusal: `on another origin than the child's ${childUrl.origin} (allowParentOutsideTree permits it)` }
      : {}),
    open: async () => child.forUrl(url.href),
  };
}

/** A locator path that is named in the PARENT_NOT_FOUND message but never opened. */
function refused(key: string, written: string, refusal: string): ParentLocation {
  return {
    description: `${key} ${JSON.stringify(written)}`,
    identity: `${key}:${written}`,
    refusal,
    open: () => Promise.reject(new Error(`${key} is not opened over HTTP`)),
  };
}

function parseUrl(relative: string, base: URL): URL | null {
  try {
    return new URL(relative, base);
  } catch {
    return null;
  }
}

/**
 * `..\dir\base #1.vhdx` as the relative URL `../dir/base%20%231.vhdx`: each
 * name percent-encoded. A UNC path `\\server\share\base.vhdx` names a host:
 * `//server/share/base.vhdx`, another origin.
 */
export function relativePathAsUrl(windowsPath: string): string {
  const names = windowsPath.split(/[\\/]/);
  const unc = names.length > 3 && names[0] === "" && names[1] === "" && /^[\w.:[\]-]+$/.test(names[2]!);
  return names
    .map((name, i) => (name === "." || name === ".." || (unc && i === 2) ? name : encodeURIComponent(name)))
    .join("/");
}
