// Cells shared by the console table (index.mjs) and the README table (readme-table.mjs).

/** 0.8 ms, 65 ms, 1.23 s. */
export function formatMs(ms) {
  if (ms == null) return "—";
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  return ms >= 10 ? `${ms.toFixed(0)} ms` : `${ms.toFixed(1)} ms`;
}

/** 0.22x, 0.004x, 13.7x. */
export function formatRatio(ratio) {
  if (ratio == null) return "—";
  const digits = ratio < 0.1 ? 3 : ratio >= 10 ? 1 : 2;
  return `${ratio.toFixed(digits)}x`;
}

/** 45 MiB. */
export const formatRss = (mib) => (mib == null ? "—" : `${mib.toFixed(0)} MiB`);

/** "<= 0.25x, < 64 MiB RSS", or "—" when the case has no target. */
export function formatTarget(target) {
  if (target == null) return "—";
  return `<= ${target.ratio}x${target.rssMiB === undefined ? "" : `, < ${target.rssMiB} MiB RSS`}`;
}

export const formatMet = (met) => (met == null ? "—" : met ? "yes" : "**no**");
