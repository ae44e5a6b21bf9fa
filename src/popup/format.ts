/** Pure formatting helpers for the popup. Everything returns plain text (never markup). */

/** A probability in [0,1] as a percentage with one decimal: 0.9834 → "98.3%". */
export function formatPercent(p: number): string {
  if (!Number.isFinite(p)) return '—';
  return `${(p * 100).toFixed(1)}%`;
}

/** A distance with three decimals. */
export function formatDistance(d: number): string {
  if (!Number.isFinite(d)) return '—';
  return d.toFixed(3);
}

/** An L0 distance: an integer count of changed pixels. */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return '—';
  return String(Math.round(n));
}

/** Milliseconds: one decimal under 10 ms, whole numbers above. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '—';
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

/** ε with two decimals (the slider's step is 0.01). */
export function formatEps(eps: number): string {
  if (!Number.isFinite(eps)) return '—';
  return eps.toFixed(2);
}

/** An amplification factor: "×5", "×6.3", "×120". */
export function formatFactor(k: number): string {
  if (!Number.isFinite(k)) return '×1';
  if (k >= 10) return `×${Math.round(k)}`;
  const s = k.toFixed(1);
  return `×${s.endsWith('.0') ? s.slice(0, -2) : s}`;
}

/** Shorten long text (a URL) in the middle, keeping its start and its end. */
export function truncateMiddle(text: string, max = 64): string {
  if (text.length <= max) return text;
  if (max < 5) return text.slice(0, max);
  const tail = Math.min(16, Math.floor((max - 1) / 3));
  const head = max - 1 - tail;
  return `${text.slice(0, head)}…${text.slice(text.length - tail)}`;
}

/** Round to 2 decimals, as the ε slider does; avoids 0.30000000000000004. */
export function roundEps(v: number): number {
  return Math.round(v * 100) / 100;
}
