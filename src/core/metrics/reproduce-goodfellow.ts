/**
 * The measurements behind the Goodfellow et al. 2015 section of `probe reproduce` ("Explaining and
 * Harnessing Adversarial Examples"): error rate and confidence under an attack over a whole test set,
 * the logits along the FGSM direction (fig. 4), and the weights of a linear binary model. Pure tfjs,
 * no Node: every function takes a Classifier and labelled images.
 */
import * as tf from '@tensorflow/tfjs';
import type { ClassifierAttackSpec, ParamValues } from '../attacks';
import { crossEntropyGradient } from '../attacks/gradients';
import { ProbeError } from '../errors';
import type { Classifier } from '../models/types';
import type { LabelledSet } from './evaluate';

/** Error of a model on a test set under an attack, paper protocol (every image attacked, true labels). */
export interface AdversarialError {
  /** Images used (the first n of the set). */
  readonly n: number;
  /** Fraction of the n clean images misclassified. */
  readonly cleanError: number;
  /** Fraction of the n adversarial images misclassified (argmax ≠ true label). */
  readonly adversarialError: number;
  /** Mean softmax probability of the predicted (wrong) class over the misclassified adversarial images; NaN when none. */
  readonly meanWrongConfidence: number;
  /** Number of misclassified adversarial images. */
  readonly wrong: number;
}

export interface AdversarialErrorOptions {
  readonly n?: number;
  readonly batch?: number;
  /**
   * The model the adversarial examples are crafted on (default: the evaluated model itself, white box).
   * Another model gives transfer: crafted on `craftOn`, scored on `model`.
   */
  readonly craftOn?: Classifier;
}

function batchTensors(model: Classifier, set: LabelledSet, s: number, e: number): { x: tf.Tensor4D; y: tf.Tensor1D } {
  const [h, w, c] = model.inputShape;
  const size = h * w * c;
  return {
    x: tf.tensor4d(set.images.subarray(s * size, e * size), [e - s, h, w, c]),
    y: tf.tensor1d(Int32Array.from(set.labels.subarray(s, e)), 'int32'),
  };
}

/**
 * Goodfellow et al.'s measure: run `attack` with the true labels on each of the first n images
 * (misclassified ones included, as the paper reports the error rate on the adversarially perturbed
 * test set) and count the adversarial images the model gets wrong, with the mean confidence of
 * those wrong predictions ("misclassified 89.4% of adversarial examples with 97.6% avg confidence").
 */
export async function adversarialError(
  model: Classifier,
  attack: ClassifierAttackSpec,
  params: ParamValues,
  set: LabelledSet,
  opts: AdversarialErrorOptions = {},
): Promise<AdversarialError> {
  const n = Math.min(opts.n ?? set.n, set.n);
  if (n <= 0) throw new ProbeError('BAD_INPUT', 'adversarialError needs at least one image');
  const batch = Math.max(1, opts.batch ?? 250);
  const source = opts.craftOn ?? model;
  let cleanWrong = 0;
  let wrong = 0;
  let conf = 0;
  for (let s = 0; s < n; s += batch) {
    const e = Math.min(n, s + batch);
    const { x, y } = batchTensors(model, set, s, e);
    let adv: tf.Tensor4D | undefined;
    try {
      adv = (await attack.run(source, x, { params, y, targeted: false })).adv;
      const stats = tf.tidy(() => {
        const clean = tf.cast(tf.notEqual(tf.argMax(model.logits(x), 1), y), 'float32');
        const z = model.logits(adv!);
        const miss = tf.cast(tf.notEqual(tf.argMax(z, 1), y), 'float32');
        return tf.stack([clean, miss, tf.max(tf.softmax(z), 1)]);
      });
      const v = (await stats.data()) as Float32Array;
      stats.dispose();
      const m = e - s;
      for (let k = 0; k < m; k++) {
        cleanWrong += v[k];
        if (v[m + k] > 0.5) {
          wrong++;
          conf += v[2 * m + k];
        }
      }
    } finally {
      tf.dispose([x, y]);
      if (adv) adv.dispose();
    }
  }
  return { n, cleanError: cleanWrong / n, adversarialError: wrong / n, meanWrongConfidence: wrong > 0 ? conf / wrong : Number.NaN, wrong };
}

/** One point of an error-vs-ε curve. */
export interface EpsPoint extends AdversarialError {
  readonly eps: number;
}

/** adversarialError at each ε (the attack's `eps` parameter replaced), in order. */
export async function errorVsEps(
  model: Classifier,
  attack: ClassifierAttackSpec,
  params: ParamValues,
  set: LabelledSet,
  epsList: readonly number[],
  opts: AdversarialErrorOptions = {},
): Promise<EpsPoint[]> {
  const out: EpsPoint[] = [];
  for (const eps of epsList) out.push({ eps, ...(await adversarialError(model, attack, { ...params, eps }, set, opts)) });
  return out;
}

/** `count` evenly spaced values from `from` to `to` inclusive (rounded to 1e-9 so 0.25 prints as 0.25). */
export function linspace(from: number, to: number, count: number): number[] {
  if (!Number.isInteger(count) || count < 2) throw new ProbeError('BAD_INPUT', `linspace needs at least 2 points, got ${count}`);
  return Array.from({ length: count }, (_, i) => Math.round((from + ((to - from) * i) / (count - 1)) * 1e9) / 1e9);
}

/** Fig. 4: the logits of one image moved along the FGSM direction, x + ε·sign(∇ₓJ(x, y)), no clipping. */
export interface LogitSweep {
  readonly label: number;
  readonly eps: readonly number[];
  /** logits[i][c]: logit of class c at eps[i]. */
  readonly logits: readonly (readonly number[])[];
  /** Arg-max class at each ε. */
  readonly predicted: readonly number[];
}

/**
 * Goodfellow et al.'s fig. 4: the argument of the softmax for every class as ε varies along the
 * fixed direction sign(∇ₓJ(θ, x, y)) of one image. The inputs are not clipped to the pixel range
 * (large |ε| gives the paper's "rubbish" inputs).
 */
export async function logitSweep(model: Classifier, image: Float32Array, label: number, epsList: readonly number[]): Promise<LogitSweep> {
  const [h, w, c] = model.inputShape;
  if (image.length !== h * w * c) throw new ProbeError('BAD_INPUT', `logitSweep: image has ${image.length} values, model takes ${h * w * c}`);
  const z = tf.tidy(() => {
    const x = tf.tensor4d(image, [1, h, w, c]);
    const dir = tf.sign(crossEntropyGradient(model, x, tf.tensor1d([label], 'int32')));
    const eps = tf.tensor1d(Float32Array.from(epsList)).reshape([-1, 1, 1, 1]);
    return model.logits(tf.add(x, tf.mul(eps, dir)) as tf.Tensor4D);
  });
  const [k, C] = z.shape;
  const v = (await z.data()) as Float32Array;
  z.dispose();
  const logits: number[][] = [];
  const predicted: number[] = [];
  for (let i = 0; i < k; i++) {
    const row = Array.from(v.subarray(i * C, (i + 1) * C));
    logits.push(row);
    predicted.push(row.indexOf(Math.max(...row)));
  }
  return { label, eps: [...epsList], logits, predicted };
}

/** Maximal runs of consecutive sweep points where the prediction is `cls`, as [first ε, last ε] pairs. */
export function classRegions(sweep: Pick<LogitSweep, 'eps' | 'predicted'>, cls: number): [number, number][] {
  const out: [number, number][] = [];
  let start = -1;
  for (let i = 0; i <= sweep.eps.length; i++) {
    const on = i < sweep.eps.length && sweep.predicted[i] === cls;
    if (on && start < 0) start = i;
    if (!on && start >= 0) {
      out.push([sweep.eps[start], sweep.eps[i - 1]]);
      start = -1;
    }
  }
  return out;
}

/** Number of times the arg-max class changes between consecutive sweep points. */
export function predictionChanges(predicted: readonly number[]): number {
  let k = 0;
  for (let i = 1; i < predicted.length; i++) if (predicted[i] !== predicted[i - 1]) k++;
  return k;
}

/**
 * Largest relative deviation of each logit from the straight line through its neighbours (second
 * difference over the logit range), over the sweep: 0 for logits exactly linear in ε. Piecewise
 * linear curves give a few spikes at the kinks and zeros elsewhere; `kinkFraction` counts the
 * interior points whose second difference exceeds `tol` × the logit range (any class).
 */
export function kinkFraction(sweep: Pick<LogitSweep, 'logits'>, tol = 1e-3): number {
  const L = sweep.logits;
  if (L.length < 3) return 0;
  const C = L[0].length;
  let lo = Infinity;
  let hi = -Infinity;
  for (const row of L) for (const v of row) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  const range = Math.max(hi - lo, 1e-12);
  let kinks = 0;
  for (let i = 1; i < L.length - 1; i++) {
    let bent = false;
    for (let c = 0; c < C; c++) if (Math.abs(L[i - 1][c] - 2 * L[i][c] + L[i + 1][c]) > tol * range) bent = true;
    if (bent) kinks++;
  }
  return kinks / (L.length - 2);
}

/** A linear binary model's decision function z(x) = w·x + b (logit of class 1 minus class 0). */
export interface LinearWeights {
  readonly w: Float32Array;
  readonly b: number;
}

/**
 * Reads w and b of a two-class model that is linear in its input (logistic regression) through the
 * Classifier interface only: w = ∇ₓ(z₁ − z₀), b = z₁(0) − z₀(0). Checks linearity on `probe`
 * (z(probe) = w·probe + b within 1e-3 relative) and throws if the model is not linear.
 */
export async function linearWeights(model: Classifier, probe?: Float32Array): Promise<LinearWeights> {
  if (model.classNames.length !== 2) throw new ProbeError('BAD_INPUT', `linearWeights needs a two-class model, ${model.id} has ${model.classNames.length}`);
  const [h, w, c] = model.inputShape;
  const size = h * w * c;
  const margin = (x: tf.Tensor4D): tf.Scalar => {
    const z = model.logits(x);
    return tf.sum(tf.sub(z.slice([0, 1], [-1, 1]), z.slice([0, 0], [-1, 1])));
  };
  const [gT, bT] = tf.tidy(() => {
    const zero = tf.zeros([1, h, w, c]) as tf.Tensor4D;
    return [tf.grad((x: tf.Tensor) => margin(x as tf.Tensor4D))(zero), margin(zero)];
  });
  const wv = (await gT.data()) as Float32Array;
  const b = (await bT.data())[0];
  tf.dispose([gT, bT]);
  const p = probe ?? Float32Array.from({ length: size }, (_, i) => (i % 7) / 7);
  const zT = tf.tidy(() => margin(tf.tensor4d(p, [1, h, w, c])));
  const z = (await zT.data())[0];
  zT.dispose();
  let lin = b;
  let scale = Math.abs(b);
  for (let i = 0; i < size; i++) { lin += wv[i] * p[i]; scale += Math.abs(wv[i] * p[i]); }
  if (Math.abs(z - lin) > 1e-3 * Math.max(scale, 1)) {
    throw new ProbeError('BAD_INPUT', `${model.id} is not linear in its input (z = ${z}, w·x + b = ${lin})`);
  }
  return { w: Float32Array.from(wv), b };
}

/**
 * For a linear two-class model: the fraction of changed pixels (|x' − x| > 1e-6) whose change has the
 * sign the optimal max-norm perturbation predicts, +sign(w) for class-0 images (raising z = w·x + b
 * raises the loss) and −sign(w) for class-1 images. 1 when FGSM is exactly ε·sign(w) up to clipping.
 */
export function signAgreement(x: Float32Array, adv: Float32Array, w: Float32Array, labels: ArrayLike<number>): { changed: number; agreeing: number; fraction: number } {
  const size = w.length;
  if (x.length !== adv.length || x.length !== labels.length * size) throw new ProbeError('BAD_INPUT', 'signAgreement: sizes do not match');
  let changed = 0;
  let agreeing = 0;
  for (let i = 0; i < labels.length; i++) {
    const s = labels[i] === 0 ? 1 : -1;
    for (let j = 0; j < size; j++) {
      const d = adv[i * size + j] - x[i * size + j];
      if (Math.abs(d) <= 1e-6) continue;
      changed++;
      if (Math.sign(d) === s * Math.sign(w[j])) agreeing++;
    }
  }
  return { changed, agreeing, fraction: changed > 0 ? agreeing / changed : Number.NaN };
}
