/**
 * Pure helpers of the Szegedy et al. ("Intriguing properties of neural networks", ICLR 2014) section of
 * `probe reproduce`: the paper's distortion measure, seeded random targets and Gaussian noise, error
 * rates and the comparison of a measured mean distortion with a published one. No tensors, no files.
 */
import { mulberry32 } from '../random';
import type { Comparison } from './reproduce-papers';

/** The models of tables 1 and 2, in the paper's order, with the paper's names. */
export const SZEGEDY_MODELS = [
  { id: 'mnist-fc10-1e-4', paperName: 'FC10(1e-4)', key: 'fc10_1e4' },
  { id: 'mnist-fc10-1e-2', paperName: 'FC10(1e-2)', key: 'fc10_1e2' },
  { id: 'mnist-fc10-1', paperName: 'FC10(1)', key: 'fc10_1' },
  { id: 'mnist-fc100-100-10', paperName: 'FC100-100-10', key: 'fc100' },
  { id: 'mnist-fc200-200-10', paperName: 'FC200-200-10', key: 'fc200' },
  { id: 'mnist-ae400-10', paperName: 'AE400-10', key: 'ae400' },
] as const;

/** Gaussian-noise rows of table 2 (stddev), in the paper's order. */
export const NOISE_STDDEVS = [0.1, 0.3] as const;

/**
 * Szegedy et al.'s distortion of x′ from x: √(Σᵢ(x′ᵢ − xᵢ)² / n), n = pixels per image (the RMS
 * per-pixel change, pixels in [0, 1]). One value per image of the flat batches `x` and `adv`.
 */
export function rmsDistortion(x: ArrayLike<number>, adv: ArrayLike<number>, dim: number): number[] {
  if (x.length !== adv.length || dim <= 0 || x.length % dim !== 0) throw new Error('rmsDistortion: batches of different sizes');
  const out: number[] = [];
  for (let i = 0; i < x.length / dim; i++) {
    let s = 0;
    for (let j = i * dim; j < (i + 1) * dim; j++) {
      const d = adv[j] - x[j];
      s += d * d;
    }
    out.push(Math.sqrt(s / dim));
  }
  return out;
}

/** A uniformly random target class ≠ the label for each label (seeded: the same seed gives the same targets). */
export function randomTargets(labels: ArrayLike<number>, classes: number, seed: number): Int32Array {
  if (classes < 2) throw new Error('randomTargets: need at least 2 classes');
  const rnd = mulberry32(seed);
  const out = new Int32Array(labels.length);
  for (let i = 0; i < labels.length; i++) {
    const t = Math.min(classes - 2, Math.floor(rnd() * (classes - 1)));
    out[i] = t >= labels[i] ? t + 1 : t;
  }
  return out;
}

/** x + N(0, stddev²) per pixel (Box–Muller on a seeded generator), clipped to [lo, hi]. */
export function gaussianNoise(x: ArrayLike<number>, stddev: number, seed: number, lo = 0, hi = 1): Float32Array {
  const rnd = mulberry32(seed);
  const out = new Float32Array(x.length);
  for (let j = 0; j < x.length; j += 2) {
    const u = 1 - rnd(); // (0, 1]
    const v = rnd();
    const r = Math.sqrt(-2 * Math.log(u));
    out[j] = Math.min(hi, Math.max(lo, x[j] + stddev * r * Math.cos(2 * Math.PI * v)));
    if (j + 1 < x.length) out[j + 1] = Math.min(hi, Math.max(lo, x[j + 1] + stddev * r * Math.sin(2 * Math.PI * v)));
  }
  return out;
}

/** Fraction of predictions that differ from the labels. */
export function errorRate(predicted: ArrayLike<number>, labels: ArrayLike<number>): number {
  if (predicted.length !== labels.length) throw new Error('errorRate: lengths differ');
  if (predicted.length === 0) return Number.NaN;
  let wrong = 0;
  for (let i = 0; i < predicted.length; i++) if (predicted[i] !== labels[i]) wrong++;
  return wrong / predicted.length;
}

export function mean(v: readonly number[]): number {
  return v.length === 0 ? Number.NaN : v.reduce((a, b) => a + b, 0) / v.length;
}

export function sampleSd(v: readonly number[]): number {
  if (v.length < 2) return Number.NaN;
  const m = mean(v);
  return Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1));
}

/** Relative difference of two mean distortions still counted as agreement (the paper gives two digits at best). */
export const DISTORTION_REL_TOLERANCE = 0.1;

/**
 * Compares a measured mean distortion (mean of `count` values with sample standard deviation `sd`)
 * with a published one: they agree when |measured − paper| ≤ max(10% of the paper's value,
 * 2 standard errors of the measured mean).
 */
export function compareMeans(measured: number, paper: number, sd: number, count: number): Comparison {
  const se = count > 1 && Number.isFinite(sd) ? sd / Math.sqrt(count) : Infinity;
  const tolerance = Math.max(DISTORTION_REL_TOLERANCE * Math.abs(paper), 2 * se);
  const difference = measured - paper;
  return { measured, paper, difference, tolerance, agrees: Number.isFinite(measured) && Math.abs(difference) <= tolerance };
}
