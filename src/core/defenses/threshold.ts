/**
 * Threshold calibration shared by the defenses (MagNet's detector, the GPDNN "unsure" flag): pick the
 * score above which an input is flagged so that at most a stated fraction of clean calibration
 * images is flagged (Meng & Chen's "false positive rate on the validation set").
 */
import { ProbeError } from '../errors';

/** A calibrated threshold: an input is flagged when its score is strictly greater than `threshold`. */
export interface Threshold {
  readonly threshold: number;
  /** The false-positive rate asked for, in [0, 1). */
  readonly fpr: number;
  /** Number of calibration scores. */
  readonly n: number;
  /** floor(fpr·n): the most calibration scores that may lie above the threshold. */
  readonly allowed: number;
  /** Calibration scores strictly above the threshold (≤ allowed; fewer when scores tie). */
  readonly flagged: number;
}

/** Tolerance against products like 0.29·100 = 28.999999999999996 when taking floor(fpr·n). */
const FLOOR_EPS = 1e-9;

/**
 * Exact empirical quantile: with the scores sorted ascending s₍₀₎ ≤ … ≤ s₍ₙ₋₁₎ and k = floor(fpr·n),
 * the threshold is s₍ₙ₋₁₋ₖ₎, the (k+1)-th largest score. Then at most k scores are strictly above it
 * (exactly k when there are no ties there), and it is the smallest calibration score with that
 * property. fpr = 0 gives the maximum (nothing in the calibration set is flagged).
 * Throws BAD_INPUT for an empty or non-finite score list or an fpr outside [0, 1).
 */
export function calibrateThreshold(scores: ArrayLike<number>, fpr: number): Threshold {
  const n = scores.length;
  if (n === 0) throw new ProbeError('BAD_INPUT', 'calibrateThreshold needs at least one score');
  if (!Number.isFinite(fpr) || fpr < 0 || fpr >= 1) throw new ProbeError('BAD_INPUT', `fpr must be in [0, 1), got ${fpr}`);
  const sorted = Float64Array.from(scores);
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(sorted[i])) throw new ProbeError('BAD_INPUT', `score ${i} is not a finite number (${sorted[i]})`);
  }
  sorted.sort();
  const allowed = Math.min(n - 1, Math.floor(fpr * n + FLOOR_EPS));
  const threshold = sorted[n - 1 - allowed];
  let flagged = 0;
  for (let i = n - 1; i >= 0 && sorted[i] > threshold; i--) flagged++;
  return { threshold, fpr, n, allowed, flagged };
}

/** Flags of `scores` against a threshold: score > threshold (the convention of {@link calibrateThreshold}). */
export function flagAbove(scores: ArrayLike<number>, threshold: number): boolean[] {
  return Array.from(scores, (s) => s > threshold);
}

/** Fraction of true values (0 for an empty list). */
export function rate(flags: readonly boolean[]): number {
  return flags.length === 0 ? 0 : flags.filter(Boolean).length / flags.length;
}

/** log C(n, k) + k log p + (n − k) log(1 − p): the log-probability of exactly k successes in Binomial(n, p). */
function logBinomialPmf(k: number, n: number, p: number, logFact: Float64Array): number {
  const lp = k === 0 ? 0 : k * Math.log(p);
  const lq = k === n ? 0 : (n - k) * Math.log1p(-p);
  return logFact[n] - logFact[k] - logFact[n - k] + lp + lq;
}

/**
 * Exact binomial tails for X ~ Binomial(n, p): lower = P(X ≤ k), upper = P(X ≥ k). Used to check a
 * measured false-positive count against the rate a threshold was calibrated for.
 */
export function binomialTails(k: number, n: number, p: number): { lower: number; upper: number } {
  if (!Number.isInteger(n) || n < 1 || !Number.isInteger(k) || k < 0 || k > n) throw new ProbeError('BAD_INPUT', `need integers 0 ≤ k ≤ n, n ≥ 1 (got k=${k}, n=${n})`);
  if (!Number.isFinite(p) || p < 0 || p > 1) throw new ProbeError('BAD_INPUT', `p must be in [0, 1], got ${p}`);
  if (p === 0) return { lower: 1, upper: k === 0 ? 1 : 0 };
  if (p === 1) return { lower: k === n ? 1 : 0, upper: 1 };
  const logFact = new Float64Array(n + 1);
  for (let i = 1; i <= n; i++) logFact[i] = logFact[i - 1] + Math.log(i);
  let lower = 0;
  let upper = 0;
  for (let i = 0; i <= n; i++) {
    const pm = Math.exp(logBinomialPmf(i, n, p, logFact));
    if (i <= k) lower += pm;
    if (i >= k) upper += pm;
  }
  return { lower: Math.min(1, lower), upper: Math.min(1, upper) };
}

/** Two-sided exact binomial check: k of n is consistent with rate p when neither tail is below alpha/2. */
export function binomialConsistent(k: number, n: number, p: number, alpha = 0.001): boolean {
  const t = binomialTails(k, n, p);
  return t.lower > alpha / 2 && t.upper > alpha / 2;
}
