/**
 * Papernot et al.'s hardness measure ("The Limitations of Deep Learning in Adversarial Settings",
 * IEEE EuroS&P 2016; papers.md § Hardness Matrix): for a source-target class pair (s, t),
 * H(s, t) = ∫ ε(s, t, τ) dτ, estimated from (τ_k, ε_k) measured at several maximum distortions Υ_k
 * by the trapezoid rule, H ≈ Σ_k (τ_{k+1} − τ_k)·(ε_{k+1} + ε_k)/2.
 *
 * The runs at every Υ_k come from one JSMA pass ({@link jsmaSweep}): JSMA is greedy and its state
 * (the image, and Γ = the features not yet at the bound) does not depend on Υ, so the run at Υ_k
 * is the first ⌊N·Υ_k/2⌋ iterations of the run at any larger Υ. Continuing the unfinished runs
 * stage by stage costs one run at the largest Υ.
 */
import * as tf from '@tensorflow/tfjs';
import { jsma, JSMA_DEFAULTS, type JsmaSaliency } from '../attacks/jsma';
import type { StepControl } from '../attacks/types';
import { ProbeError } from '../errors';
import type { Classifier } from '../models/types';
import { changedFraction, pairMatrices, type PapernotRun } from './reproduce-papernot';

/**
 * The default Υ grid: Papernot et al.'s budgets of 2, 10, 20, 40, 60, 80 and 100 of the 784 MNIST
 * pixels (0.26%, 1.28%, 2.55%, 5.10%, 7.65%, 10.2%, 12.8%; 1, 5, 10, 20, 30, 40, 50 pixel pairs) and
 * the Υ = 14.5% of their table (56 pairs).
 */
export const HARDNESS_UPSILONS: readonly number[] = [2 / 784, 10 / 784, 20 / 784, 40 / 784, 60 / 784, 80 / 784, 100 / 784, 0.145];

/** JSMA's iteration budget max_iter = ⌊N·Υ/2⌋ (pixel pairs) for N features (robust to Υ = 2k/N in floating point). */
export function pairBudget(upsilon: number, features: number): number {
  return Math.floor((features * upsilon) / 2 + 1e-9);
}

/** One point of a pair's curve: success rate τ and average distortion ε at one Υ (ε NaN when undefined). */
export interface HardnessPoint {
  readonly successRate: number;
  readonly distortion: number;
}

/**
 * H ≈ Σ_k (τ_{k+1} − τ_k)·(ε_{k+1} + ε_k)/2 over the points in the given (Υ) order. Points whose τ or ε
 * is not finite (no run, or no success when ε is the distortion of successful samples) are left out,
 * so the integral covers the τ range between the first and the last defined point. NaN when no point
 * is defined; 0 with one.
 */
export function hardness(points: readonly HardnessPoint[]): number {
  const ok = points.filter((p) => Number.isFinite(p.successRate) && Number.isFinite(p.distortion));
  if (ok.length === 0) return Number.NaN;
  let h = 0;
  for (let k = 0; k + 1 < ok.length; k++) h += (ok[k + 1].successRate - ok[k].successRate) * (ok[k + 1].distortion + ok[k].distortion) / 2;
  return h;
}

/** Which distortion stands for ε(s, t, τ): the mean over successful samples (default) or over all samples. */
export type HardnessDistortion = 'successful' | 'all';

/** Per-pair curves at every Υ and the hardness matrix. */
export interface HardnessMatrices {
  /** [k][s][t]: success rate at Υ_k (NaN without runs). */
  readonly successRate: number[][][];
  /** [k][s][t]: average distortion at Υ_k (of successful samples, or of all, as chosen; NaN when undefined). */
  readonly distortion: number[][][];
  /** [s][t]: H(s, t); NaN on the diagonal and where no point is defined. */
  readonly hardness: number[][];
}

/**
 * The hardness matrix from the runs at each Υ_k (`stages[k]`: every (source, target) run at Υ_k;
 * the same runs at every k, as {@link jsmaSweep} gives them).
 */
export function hardnessMatrix(stages: readonly (readonly PapernotRun[])[], classes: number, distortion: HardnessDistortion = 'successful'): HardnessMatrices {
  const successRate: number[][][] = [];
  const dist: number[][][] = [];
  for (const runs of stages) {
    const m = pairMatrices(runs, classes);
    successRate.push(m.successRate);
    if (distortion === 'successful') {
      dist.push(m.distortionSuccessful);
    } else {
      const sum = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
      for (const r of runs) sum[r.source][r.target] += r.distortion;
      dist.push(sum.map((row, s) => row.map((v, t) => (m.count[s][t] > 0 ? v / m.count[s][t] : Number.NaN))));
    }
  }
  const H = Array.from({ length: classes }, (_, s) => Array.from({ length: classes }, (_, t) =>
    hardness(stages.map((_, k) => ({ successRate: successRate[k][s][t], distortion: dist[k][s][t] })))));
  return { successRate, distortion: dist, hardness: H };
}

export interface SweepOptions {
  /** Maximum distortions Υ_k, increasing, each giving more pixel pairs than the one before (default {@link HARDNESS_UPSILONS}). */
  readonly upsilons?: readonly number[];
  readonly theta?: 1 | -1;
  readonly saliency?: JsmaSaliency;
}

/** Per Υ_k and image: whether the adversarial sample is classified as its target, and the fraction of features changed. */
export interface SweepResult {
  readonly upsilons: readonly number[];
  /** Pixel pairs allowed at each Υ_k (⌊N·Υ_k/2⌋). */
  readonly budgets: readonly number[];
  readonly success: readonly Uint8Array[];
  readonly distortion: readonly Float64Array[];
  /** The adversarial samples at the largest Υ, flat [n·N]. */
  readonly adv: Float32Array;
}

/** Arg-max classes of a flat batch (first index on ties, as tf.argMax), in blocks of `batch` images. */
export async function predictFlat(model: Classifier, flat: Float32Array, n: number, batch = 256): Promise<Int32Array> {
  const shape = model.inputShape;
  const N = shape[0] * shape[1] * shape[2];
  const out = new Int32Array(n);
  for (let s = 0; s < n; s += batch) {
    const k = Math.min(batch, n - s);
    const p = tf.tidy(() => tf.argMax(model.logits(tf.tensor4d(flat.subarray(s * N, (s + k) * N), [k, ...shape])), 1));
    try {
      out.set((await p.data()) as Int32Array, s);
    } finally {
      p.dispose();
    }
  }
  return out;
}

/**
 * JSMA (see {@link jsma}) at every Υ_k of an increasing grid in one pass: the run at Υ_1, then the
 * runs not yet at their target continued with the ⌊N·Υ_{k+1}/2⌋ − ⌊N·Υ_k/2⌋ more pixel pairs of the
 * next Υ, and so on. Each stage equals a direct `jsma` call with the same pair budget (the continued
 * run starts from the same image with the same Γ: the changed features are at the bound, hence
 * outside Γ). Budgets are {@link pairBudget}, which reads Υ = 2k/N as k pairs, where `jsma`'s plain
 * ⌊N·Υ/2⌋ of the float product may give k − 1.
 * Success at Υ_k: the arg-max logit is the target; distortion: the fraction of the N features that
 * differ from `x` by more than L0_TOLERANCE. `x` and `targets` are not disposed; no tensor is kept.
 */
export async function jsmaSweep(model: Classifier, x: tf.Tensor4D, targets: tf.Tensor1D, opts: SweepOptions = {}, ctl?: StepControl): Promise<SweepResult> {
  const upsilons = opts.upsilons ?? HARDNESS_UPSILONS;
  const theta = opts.theta ?? JSMA_DEFAULTS.theta;
  const saliency = opts.saliency ?? JSMA_DEFAULTS.saliency;
  if (x.rank !== 4) throw new ProbeError('BAD_INPUT', `jsmaSweep needs a batch [n, h, w, c], got shape [${x.shape.join(', ')}]`);
  const [n, h, w, c] = x.shape;
  const N = h * w * c;
  if (upsilons.length === 0) throw new ProbeError('BAD_INPUT', 'jsmaSweep needs at least one maximum distortion Υ');
  const budgets = upsilons.map((u) => {
    if (!Number.isFinite(u) || u <= 0 || u > 1) throw new ProbeError('BAD_INPUT', `every Υ must be in (0, 1], got ${u}`);
    return pairBudget(u, N);
  });
  budgets.forEach((b, k) => {
    if (b < 1 || (k > 0 && b <= budgets[k - 1])) {
      throw new ProbeError('BAD_INPUT', `the Υ grid must allow more pixel pairs at each step (⌊N·Υ/2⌋ = ${budgets.join(', ')} for N = ${N})`);
    }
  });
  if (targets.rank !== 1 || targets.shape[0] !== n) {
    throw new ProbeError('BAD_INPUT', `jsmaSweep needs one target class per image (${n}), got shape [${targets.shape.join(', ')}]`);
  }
  const x0 = (await x.data()) as Float32Array;
  const tData = Int32Array.from(await targets.data());
  const adv = Float32Array.from(x0);
  const done = new Uint8Array(n);
  const success: Uint8Array[] = [];
  const distortion: Float64Array[] = [];
  let spent = 0;
  for (let k = 0; k < budgets.length; k++) {
    const active: number[] = [];
    for (let i = 0; i < n; i++) if (!done[i]) active.push(i);
    if (active.length > 0) {
      const more = budgets[k] - spent;
      const xa = new Float32Array(active.length * N);
      active.forEach((img, j) => xa.set(adv.subarray(img * N, (img + 1) * N), j * N));
      const xT = tf.tensor4d(xa, [active.length, h, w, c]);
      const tT = tf.tensor1d(Int32Array.from(active, (i) => tData[i]), 'int32');
      let out: Float32Array;
      try {
        // (2·more + 1)/N: exactly `more` pairs under JSMA's ⌊N·Υ/2⌋, whatever the rounding.
        const r = await jsma(model, xT, { targets: tT, theta, saliency, maxDistortion: Math.min(1, (2 * more + 1) / N) }, ctl);
        try {
          out = (await r.data()) as Float32Array;
        } finally {
          r.dispose();
        }
      } finally {
        tf.dispose([xT, tT]);
      }
      active.forEach((img, j) => adv.set(out.subarray(j * N, (j + 1) * N), img * N));
      const pred = await predictFlat(model, out, active.length);
      active.forEach((img, j) => {
        if (pred[j] === tData[img]) done[img] = 1;
      });
    }
    spent = budgets[k];
    success.push(Uint8Array.from(done));
    distortion.push(Float64Array.from(changedFraction(x0, adv, N)));
  }
  return { upsilons: [...upsilons], budgets, success, distortion, adv };
}
