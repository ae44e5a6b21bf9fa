/**
 * Exporting an adversarial image as 8-bit pixels without losing the attack. Attacks work in float32; a
 * PNG holds 256 levels per channel, and rounding to the nearest level can undo a small perturbation
 * (an adversarial at the decision boundary: CW-L2, L-BFGS, the minimum-distortion attacks). This
 * rounds, re-classifies the rounded pixels, and if the attack no longer holds searches the rounding:
 *   1. 'nearest': every value to its nearest level;
 *   2. 'away': values the attack changed rounded away from the original (ceil where it raised them,
 *      floor where it lowered them), unchanged values to the nearest level;
 *   3. 'search': from (2), steps of one level on the pixels with the largest loss gradient, in the
 *      attack's direction (up the loss of the original class, or down the loss of the target), within
 *      an optional L∞ budget around the original, until the rounded image is adversarial again;
 *   4. 'failed': none of these held; the nearest rounding is returned and the result says so.
 * The model is asked about the exact bytes returned (issue 6: "verify by re-classifying the exported
 * bytes").
 */
import * as tf from '@tensorflow/tfjs';
import { crossEntropyGradient } from '../attacks/gradients';
import { ProbeError } from '../errors';
import type { Classifier } from '../models/types';

/** What the exported image must still do: be classified as `label` (targeted) or as anything but `label`. */
export interface QuantizeGoal {
  readonly label: number;
  readonly targeted: boolean;
}

export type QuantizeMethod = 'nearest' | 'away' | 'search' | 'failed';

export interface QuantizeOptions {
  /** Gradient steps of the search (default 30). */
  readonly maxSteps?: number;
  /** Fraction of the pixels moved by one level per step (default 0.01; at least one pixel). */
  readonly stepFraction?: number;
  /** L∞ budget around the original in input units (e.g. a fixed-ε attack's ε); default: no budget. */
  readonly maxLinf?: number;
}

export interface QuantizedAdversarial {
  /** The exported pixels: levels 0–255, one per input value, in the model's input layout (h·w·c). */
  readonly levels: Uint8Array;
  readonly method: QuantizeMethod;
  /** Gradient steps the search took (0 unless method is 'search' or 'failed'). */
  readonly steps: number;
  /** Whether the exported bytes still meet the goal, re-classified. */
  readonly success: boolean;
  /** The model's class and softmax confidence for the exported bytes. */
  readonly predicted: number;
  readonly confidence: number;
  /** Distortion of the exported image from the original, in input units. */
  readonly linf: number;
  readonly l2: number;
}

/** The model's input value of level `q` (0–255). */
const valueOf = (q: number, min: number, max: number): number => min + ((max - min) * q) / 255;

/**
 * Rounds `adversarial` to 8-bit levels so that it stays adversarial if it can (see the file comment).
 * `original` and `adversarial` are one image each, in the model's input range and layout.
 */
export async function quantizeAdversarial(
  model: Classifier,
  original: Float32Array,
  adversarial: Float32Array,
  goal: QuantizeGoal,
  opts: QuantizeOptions = {},
): Promise<QuantizedAdversarial> {
  const [h, w, c] = model.inputShape;
  const n = h * w * c;
  const { min, max } = model.inputRange;
  const classes = model.classNames.length;
  if (original.length !== n || adversarial.length !== n) throw new ProbeError('BAD_INPUT', `expected ${n} values per image, got ${original.length} and ${adversarial.length}`);
  if (!Number.isInteger(goal.label) || goal.label < 0 || goal.label >= classes) throw new ProbeError('BAD_INPUT', `label must be a class index below ${classes}, got ${goal.label}`);
  const maxSteps = opts.maxSteps ?? 30;
  const frac = opts.stepFraction ?? 0.01;
  if (!Number.isInteger(maxSteps) || maxSteps < 0) throw new ProbeError('BAD_INPUT', `maxSteps must be an integer ≥ 0, got ${maxSteps}`);
  if (!(frac > 0 && frac <= 1)) throw new ProbeError('BAD_INPUT', `stepFraction must be in (0, 1], got ${frac}`);
  if (opts.maxLinf !== undefined && !(opts.maxLinf >= 0)) throw new ProbeError('BAD_INPUT', `maxLinf must be ≥ 0, got ${opts.maxLinf}`);
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(original[i]) || !Number.isFinite(adversarial[i])) throw new ProbeError('BAD_INPUT', 'the images must be finite');
  }
  const level = (v: number): number => ((Math.min(max, Math.max(min, v)) - min) / (max - min)) * 255;
  // Levels allowed for each value under the L∞ budget (the whole range without one).
  const lo = new Uint8Array(n);
  const hi = new Uint8Array(n).fill(255);
  if (opts.maxLinf !== undefined) {
    for (let i = 0; i < n; i++) {
      lo[i] = Math.max(0, Math.ceil(level(original[i] - opts.maxLinf) - 1e-6));
      hi[i] = Math.min(255, Math.floor(level(original[i] + opts.maxLinf) + 1e-6));
    }
  }
  const clampLevel = (i: number, q: number): number => Math.min(hi[i], Math.max(lo[i], q));

  const judge = async (q: Uint8Array): Promise<{ success: boolean; predicted: number; confidence: number }> => {
    const probs = tf.tidy(() => tf.softmax(model.logits(tf.tensor4d(Float32Array.from(q, (v) => valueOf(v, min, max)), [1, h, w, c]))));
    const p = (await probs.data()) as Float32Array;
    probs.dispose();
    let predicted = 0;
    for (let k = 1; k < classes; k++) if (p[k] > p[predicted]) predicted = k;
    return { success: goal.targeted ? predicted === goal.label : predicted !== goal.label, predicted, confidence: p[predicted] };
  };
  const finish = (q: Uint8Array, method: QuantizeMethod, steps: number, v: { success: boolean; predicted: number; confidence: number }): QuantizedAdversarial => {
    let linf = 0;
    let l2 = 0;
    for (let i = 0; i < n; i++) {
      const d = Math.abs(valueOf(q[i], min, max) - original[i]);
      linf = Math.max(linf, d);
      l2 += d * d;
    }
    return { levels: q, method, steps, ...v, linf, l2: Math.sqrt(l2) };
  };

  const nearest = Uint8Array.from(adversarial, (v, i) => clampLevel(i, Math.round(level(v))));
  const vNearest = await judge(nearest);
  if (vNearest.success) return finish(nearest, 'nearest', 0, vNearest);

  const away = Uint8Array.from(adversarial, (v, i) => {
    const d = v - original[i];
    const l = level(v);
    return clampLevel(i, d > 0 ? Math.ceil(l - 1e-6) : d < 0 ? Math.floor(l + 1e-6) : Math.round(l));
  });
  const vAway = await judge(away);
  if (vAway.success) return finish(away, 'away', 0, vAway);

  // Search: one level per step on the pixels with the largest gradient of the loss, in the attack's direction.
  const q = away;
  const perStep = Math.max(1, Math.round(frac * n));
  const labels = tf.tensor1d([goal.label], 'int32');
  let steps = 0;
  try {
    for (let step = 1; step <= maxSteps; step++) {
      steps = step;
      const gT = tf.tidy(() => crossEntropyGradient(model, tf.tensor4d(Float32Array.from(q, (v) => valueOf(v, min, max)), [1, h, w, c]), labels));
      const g = (await gT.data()) as Float32Array;
      gT.dispose();
      // Untargeted: up the loss of the original class; targeted: down the loss of the target.
      const dir = goal.targeted ? -1 : 1;
      const order = Array.from({ length: n }, (_, i) => i)
        .filter((i) => g[i] !== 0 && clampLevel(i, q[i] + dir * Math.sign(g[i])) !== q[i])
        .sort((a, b) => Math.abs(g[b]) - Math.abs(g[a]));
      if (order.length === 0) break;
      for (const i of order.slice(0, perStep)) q[i] = clampLevel(i, q[i] + dir * Math.sign(g[i]));
      const v = await judge(q);
      if (v.success) return finish(q, 'search', step, v);
    }
  } finally {
    labels.dispose();
  }
  return finish(nearest, 'failed', steps, vNearest);
}
