/**
 * Predictive uncertainty of the GPDNN (Bradshaw et al. 2017): predictive class probabilities (the mean
 * of the robust-max likelihood under q(f)), the variance of each latent function value Var[f_c], the
 * predictive entropy H[p] = −Σ_c p_c log p_c (nats), and an "unsure" flag when H exceeds a threshold
 * calibrated on clean validation images (see threshold.ts). The same entropy of a plain softmax
 * classifier is given so the two can be compared. Pure tfjs.
 */
import * as tf from '@tensorflow/tfjs';
import { ProbeError } from '../errors';
import type { Classifier, Uncertain } from '../models/types';

/** Probabilities below this count as this in log p (0·log 0 = 0 in the limit). */
const LOG_FLOOR = 1e-12;

/** Predictive entropy −Σ p log p per row of a probability matrix [n, classes], in nats, [n]. */
export function predictiveEntropy(probs: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => tf.neg(tf.sum(tf.mul(probs, tf.log(tf.maximum(probs, LOG_FLOOR))), 1)) as tf.Tensor1D);
}

/** Entropy of the softmax of a classifier's logits, [n] (nats). */
export function softmaxEntropy(model: Classifier, x: tf.Tensor4D): tf.Tensor1D {
  return tf.tidy(() => predictiveEntropy(tf.softmax(model.logits(x)) as tf.Tensor2D));
}

/** Calibration of the "unsure" flag: unsure when the predictive entropy is strictly greater than this. */
export interface UncertaintyCalibration {
  readonly score: 'entropy';
  readonly threshold: number;
}

/** A batch's uncertainty (plain arrays, n×classes row-major where two-dimensional). */
export interface UncertaintyResult {
  readonly n: number;
  readonly classes: number;
  /** Predictive mean class probabilities. */
  readonly probs: Float32Array;
  /** Var[f_c] of each class's latent function value (GPDNN only; empty for a softmax classifier). */
  readonly variance: Float32Array;
  readonly labels: Int32Array;
  /** Predictive entropy in nats. */
  readonly entropy: Float32Array;
  /** entropy > threshold (all false when no calibration is given). */
  readonly unsure: boolean[];
}

function checkCalibration(c: UncertaintyCalibration): void {
  if (c.score !== 'entropy') throw new ProbeError('BAD_INPUT', `uncertainty score must be "entropy", got ${String(c.score)}`);
  if (typeof c.threshold !== 'number' || !Number.isFinite(c.threshold) || c.threshold < 0) {
    throw new ProbeError('BAD_INPUT', `uncertainty threshold must be a finite number ≥ 0, got ${String(c.threshold)}`);
  }
}

function checkBatch(model: Classifier, x: tf.Tensor4D): void {
  const want = model.inputShape;
  if (x.rank !== 4 || x.shape.slice(1).some((d, i) => d !== want[i])) {
    throw new ProbeError('BAD_INPUT', `${model.id} expects a batch [n, ${want.join(', ')}], got [${x.shape.join(', ')}]`);
  }
}

async function read(
  probsT: tf.Tensor2D, varT: tf.Tensor2D | null, threshold: number | null,
): Promise<UncertaintyResult> {
  const [entT, labT] = tf.tidy(() => [predictiveEntropy(probsT), tf.argMax(probsT, 1)] as const);
  try {
    const probs = (await probsT.data()) as Float32Array;
    const variance = varT ? ((await varT.data()) as Float32Array) : new Float32Array(0);
    const entropy = (await entT.data()) as Float32Array;
    const labels = Int32Array.from((await labT.data()) as Int32Array);
    const unsure = Array.from(entropy, (h) => threshold != null && h > threshold);
    return { n: probsT.shape[0], classes: probsT.shape[1], probs, variance, labels, entropy, unsure };
  } finally {
    tf.dispose([entT, labT]);
  }
}

/**
 * Uncertainty of a GPDNN (Bradshaw et al.) on a batch: predictive probabilities and Var[f] per class,
 * entropy, and unsure = entropy > calibration.threshold (no calibration: never unsure). Frees what it makes.
 */
export async function gpUncertainty(model: Uncertain, x: tf.Tensor4D, calibration?: UncertaintyCalibration): Promise<UncertaintyResult> {
  if (calibration) checkCalibration(calibration);
  checkBatch(model, x);
  const { probs, variance } = model.predictive(x);
  try {
    return await read(probs, variance, calibration?.threshold ?? null);
  } finally {
    tf.dispose([probs, variance]);
  }
}

/** The same summary for a plain softmax classifier (no variance), for comparison in the UI. */
export async function softmaxUncertainty(model: Classifier, x: tf.Tensor4D, calibration?: UncertaintyCalibration): Promise<UncertaintyResult> {
  if (calibration) checkCalibration(calibration);
  checkBatch(model, x);
  const probs = tf.tidy(() => tf.softmax(model.logits(x)) as tf.Tensor2D);
  try {
    return await read(probs, null, calibration?.threshold ?? null);
  } finally {
    probs.dispose();
  }
}

/** True when a classifier reports predictive uncertainty (an {@link Uncertain}, e.g. mnist-gpdnn). */
export function isUncertain(model: Classifier): model is Uncertain {
  return typeof (model as Partial<Uncertain>).predictive === 'function';
}
