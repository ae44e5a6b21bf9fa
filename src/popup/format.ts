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

/**
 * A number of an attack's trace or progress: integers as they are, tiny and huge values in
 * exponent notation, others with four significant digits; NaN, ±∞ and non-numbers (JSON turns
 * NaN into null) as "—".
 */
export function formatNumber(v: unknown): string {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '—';
  if (Number.isInteger(v) && Math.abs(v) < 1e6) return String(v);
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(2);
  return String(Number(v.toPrecision(4)));
}

/** Readable names of the info keys that attacks report (unknown keys are shown as they are). */
const INFO_LABELS: Readonly<Record<string, string>> = {
  binaryStep: 'step',
  searchStep: 'step',
  iteration: 'iteration',
  iterations: 'iterations',
  meanConst: 'c',
  c: 'c',
  stepSuccesses: 'found',
  successes: 'found so far',
  success: 'found',
  meanBestL2: 'best L2',
  bestL2: 'best L2',
  l2: 'L2',
  active: 'active pixels',
};

export function infoLabel(key: string): string {
  return Object.prototype.hasOwnProperty.call(INFO_LABELS, key) ? INFO_LABELS[key] : key;
}

/** Papernot et al.'s adversarial goals and capabilities as short words. */
const THREAT_WORDS: Readonly<Record<string, string>> = {
  'confidence-reduction': 'confidence reduction',
  misclassification: 'misclassification',
  'targeted-misclassification': 'targeted misclassification',
  'source-target-misclassification': 'source–target',
  'architecture-and-training-data': 'architecture + training data',
  architecture: 'architecture (white-box)',
  'training-data': 'training data',
  oracle: 'oracle',
  samples: 'samples',
};

export function threatWord(key: string): string {
  return Object.prototype.hasOwnProperty.call(THREAT_WORDS, key) ? THREAT_WORDS[key] : key;
}

/** A distance's name: l0 → "L0", linf → "L∞". */
export function distanceName(d: string): string {
  return d === 'linf' ? 'L∞' : d.toUpperCase();
}

/** Labels of attack parameter choices whose raw value is terse (others are shown as they are). */
const CHOICE_LABELS: Readonly<Record<string, string>> = {
  'norm:inf': 'L∞',
  'norm:2': 'L2',
  'theta:+1': '+1 (increase)',
  'theta:-1': '−1 (decrease)',
  'method:l2': 'L2 optimisation',
  'method:fgs': 'fast gradient sign',
};

export function choiceLabel(key: string, choice: string): string {
  const k = `${key}:${choice}`;
  return Object.prototype.hasOwnProperty.call(CHOICE_LABELS, k) ? CHOICE_LABELS[k] : choice;
}
