/**
 * Helpers of `probe reproduce` for Papernot et al. 2016 ("The Limitations of Deep Learning in
 * Adversarial Settings"): which source images each set uses, the (source, target) runs of JSMA
 * (every source × its C − 1 other classes), and the summaries the paper's table and heatmaps show:
 * success rate, average distortion (fraction of pixels changed) over all and over successful
 * samples, per (source class, target class) pair. Pure: no tensors, no file access.
 */
import { L0_TOLERANCE } from '../attacks/distances';
import { mean, sampleSd } from './reproduce-szegedy';

/** The source sets of the paper's table, and where our sources come from. */
export type PapernotSet = 'training' | 'validation' | 'test';
export const PAPERNOT_SETS: readonly PapernotSet[] = ['training', 'validation', 'test'];

/** The validation slice: the last 10,000 of the 60,000 MNIST training images (images 50,000–59,999). */
export const VALIDATION_START = 50000;

/** Where the sources of a set start: split and first index (the first `n` images from there are used). */
export function setSource(set: PapernotSet): { split: 'train' | 'test'; start: number } {
  if (set === 'training') return { split: 'train', start: 0 };
  if (set === 'validation') return { split: 'train', start: VALIDATION_START };
  return { split: 'test', start: 0 };
}

/** One JSMA run: a source image (its index in its split), its true class, the target and the result. */
export interface PapernotRun {
  readonly index: number;
  readonly source: number;
  readonly target: number;
  readonly success: boolean;
  /** Fraction of the components changed (L0 / N). */
  readonly distortion: number;
}

/** Every (source, target ≠ source) pair of the given sources, sources in order, targets ascending. */
export function allTargetPairs(labels: ArrayLike<number>, classes: number): { row: number; target: number }[] {
  const out: { row: number; target: number }[] = [];
  for (let i = 0; i < labels.length; i++) for (let t = 0; t < classes; t++) if (t !== labels[i]) out.push({ row: i, target: t });
  return out;
}

/** Fraction of components of `adv` that differ from `x` by more than L0_TOLERANCE, per image of `size` components. */
export function changedFraction(x: ArrayLike<number>, adv: ArrayLike<number>, size: number): number[] {
  if (x.length !== adv.length || x.length % size !== 0) throw new RangeError('changedFraction: length mismatch');
  const out: number[] = [];
  for (let s = 0; s < x.length; s += size) {
    let k = 0;
    for (let j = s; j < s + size; j++) if (Math.abs(adv[j] - x[j]) > L0_TOLERANCE) k++;
    out.push(k / size);
  }
  return out;
}

/** The paper's table row of one set: success rate and average distortion over all and over successful samples. */
export interface PapernotSummary {
  readonly runs: number;
  readonly successes: number;
  readonly successRate: number;
  readonly distortionAll: number;
  readonly sdDistortionAll: number;
  readonly distortionSuccessful: number;
  readonly sdDistortionSuccessful: number;
  /** Largest distortion of a successful sample (≤ Υ by construction). */
  readonly maxDistortionSuccessful: number;
}

export function summarise(runs: readonly PapernotRun[]): PapernotSummary {
  const all = runs.map((r) => r.distortion);
  const ok = runs.filter((r) => r.success).map((r) => r.distortion);
  return {
    runs: runs.length,
    successes: ok.length,
    successRate: runs.length > 0 ? ok.length / runs.length : Number.NaN,
    distortionAll: mean(all),
    sdDistortionAll: sampleSd(all),
    distortionSuccessful: mean(ok),
    sdDistortionSuccessful: sampleSd(ok),
    maxDistortionSuccessful: ok.length > 0 ? Math.max(...ok) : Number.NaN,
  };
}

/** Per (source class, target class) matrices; NaN where a pair has no run (the diagonal) or no success (distortion). */
export interface PairMatrices {
  readonly count: number[][];
  readonly successRate: number[][];
  readonly distortionSuccessful: number[][];
}

export function pairMatrices(runs: readonly PapernotRun[], classes: number): PairMatrices {
  const grid = (): number[][] => Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  const count = grid();
  const succ = grid();
  const dist = grid();
  for (const r of runs) {
    count[r.source][r.target]++;
    if (r.success) {
      succ[r.source][r.target]++;
      dist[r.source][r.target] += r.distortion;
    }
  }
  return {
    count,
    successRate: count.map((row, s) => row.map((c, t) => (c > 0 ? succ[s][t] / c : Number.NaN))),
    distortionSuccessful: dist.map((row, s) => row.map((d, t) => (succ[s][t] > 0 ? d / succ[s][t] : Number.NaN))),
  };
}

/** Smallest and largest finite entry of a matrix ([NaN, NaN] when none). */
export function finiteRange(m: readonly (readonly number[])[]): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const row of m) for (const v of row) if (Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  return lo === Infinity ? [Number.NaN, Number.NaN] : [lo, hi];
}

/** The off-diagonal entries of a square matrix, row by row. */
export function offDiagonal(m: readonly (readonly number[])[]): number[] {
  return m.flatMap((row, s) => row.filter((_, t) => t !== s));
}

/** Pearson correlation of the pairs (a_i, b_i) where both are finite; NaN with fewer than 2 such pairs or no spread. */
export function pearson(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length) throw new RangeError('pearson: length mismatch');
  const xs: number[] = [];
  const ys: number[] = [];
  a.forEach((v, i) => {
    if (Number.isFinite(v) && Number.isFinite(b[i])) {
      xs.push(v);
      ys.push(b[i]);
    }
  });
  if (xs.length < 2) return Number.NaN;
  const mx = mean(xs);
  const my = mean(ys);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < xs.length; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
    syy += (ys[i] - my) ** 2;
  }
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : Number.NaN;
}
