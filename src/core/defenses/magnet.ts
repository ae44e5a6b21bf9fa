/**
 * MagNet (Meng & Chen 2017, "MagNet: a Two-Pronged Defense against Adversarial Examples") with a VAE
 * (Kos et al.'s mnist-vae) as the autoencoder:
 *   detector: reconstruction error E(x) = mean over pixels of |x − r(x)| (L1, the default) or of
 *             (x − r(x))² (L2), with r(x) = decode(encode(x).mean); flagged when E(x) > threshold,
 *             the threshold calibrated on clean validation images for a stated false-positive rate;
 *   reformer: the classifier applied to r(x) instead of x.
 * Pure tfjs: runs in Node and in the extension.
 */
import * as tf from '@tensorflow/tfjs';
import { ProbeError } from '../errors';
import type { Classifier, Vae } from '../models/types';

/** Which per-image reconstruction error the detector uses: mean |x − r| (l1) or mean (x − r)² (l2). */
export type ReconstructionMetric = 'l1' | 'l2';
export const RECONSTRUCTION_METRICS: readonly ReconstructionMetric[] = ['l1', 'l2'];

/** What MagNet needs from a calibration: the detector's metric and its threshold. */
export interface MagnetCalibration {
  readonly metric: ReconstructionMetric;
  /** Flag when the reconstruction error is strictly greater than this. */
  readonly threshold: number;
}

/** MagNet's verdict on a batch of n images (plain arrays, ready for JSON and the UI). */
export interface MagnetResult {
  readonly n: number;
  /** Reconstruction error per image (the detector's score). */
  readonly scores: Float32Array;
  /** score > threshold: detected as adversarial. */
  readonly flagged: boolean[];
  /** The classifier's arg-max on the reconstruction (the reformer's prediction). */
  readonly reformedLabels: Int32Array;
  /** Softmax of the classifier on the reconstruction, n×classes row-major. */
  readonly reformedProbs: Float32Array;
  readonly classes: number;
}

/** MagNet bound to a VAE, a classifier and a calibration. */
export interface Magnet {
  readonly metric: ReconstructionMetric;
  readonly threshold: number;
  /** r(x) = decode(encode(x).mean), [n, h, w, c]; differentiable. */
  reconstruct(x: tf.Tensor4D): tf.Tensor4D;
  /** Per-image reconstruction error, [n]; differentiable. */
  scores(x: tf.Tensor4D): tf.Tensor1D;
  /** Logits of the classifier on the reconstruction, [n, classes]; differentiable. */
  reformedLogits(x: tf.Tensor4D): tf.Tensor2D;
  /** Detector and reformer on a batch; frees everything it makes. */
  run(x: tf.Tensor4D): Promise<MagnetResult>;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** Reconstruction r(x) = decode(encode(x).mean) of a VAE (the deterministic MagNet reformer). */
export function reconstruct(vae: Vae, x: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => vae.decode(vae.encode(x).mean));
}

/** Mean per-image reconstruction error between x and r, [n] (see {@link ReconstructionMetric}). */
export function reconstructionError(x: tf.Tensor4D, r: tf.Tensor4D, metric: ReconstructionMetric): tf.Tensor1D {
  return tf.tidy(() => {
    const d = tf.sub(x, r);
    const e = metric === 'l1' ? tf.abs(d) : tf.square(d);
    return tf.mean(tf.reshape(e, [x.shape[0], -1]), 1) as tf.Tensor1D;
  });
}

/** Checks a calibration object (a clear BAD_INPUT, never a crash). */
export function checkMagnetCalibration(c: MagnetCalibration): void {
  if (!RECONSTRUCTION_METRICS.includes(c.metric)) throw new ProbeError('BAD_INPUT', `MagNet metric must be one of ${RECONSTRUCTION_METRICS.join(', ')}, got ${String(c.metric)}`);
  if (typeof c.threshold !== 'number' || !Number.isFinite(c.threshold) || c.threshold < 0) {
    throw new ProbeError('BAD_INPUT', `MagNet threshold must be a finite number ≥ 0, got ${String(c.threshold)}`);
  }
}

/**
 * MagNet (Meng & Chen 2017) from an autoencoder (`vae`), any classifier of the same input shape and a
 * calibration (metric, threshold). Owns nothing: the caller disposes the VAE and the classifier.
 */
export function magnet(vae: Vae, classifier: Classifier, calibration: MagnetCalibration): Magnet {
  checkMagnetCalibration(calibration);
  if (!sameShape(vae.inputShape, classifier.inputShape)) {
    throw new ProbeError('BAD_INPUT', `MagNet: the VAE takes ${vae.inputShape.join('×')} images but ${classifier.id} takes ${classifier.inputShape.join('×')}`);
  }
  const { metric, threshold } = calibration;
  const checkBatch = (x: tf.Tensor4D): void => {
    if (x.rank !== 4 || !sameShape(x.shape.slice(1), vae.inputShape)) {
      throw new ProbeError('BAD_INPUT', `MagNet expects a batch [n, ${vae.inputShape.join(', ')}], got [${x.shape.join(', ')}]`);
    }
  };
  return {
    metric,
    threshold,
    reconstruct(x) {
      checkBatch(x);
      return reconstruct(vae, x);
    },
    scores(x) {
      checkBatch(x);
      return tf.tidy(() => reconstructionError(x, reconstruct(vae, x), metric));
    },
    reformedLogits(x) {
      checkBatch(x);
      return tf.tidy(() => classifier.logits(reconstruct(vae, x)));
    },
    async run(x) {
      checkBatch(x);
      const [scoresT, probsT, labelsT] = tf.tidy(() => {
        const r = reconstruct(vae, x);
        const logits = classifier.logits(r);
        return [reconstructionError(x, r, metric), tf.softmax(logits), tf.argMax(logits, 1)] as const;
      });
      try {
        const scores = (await scoresT.data()) as Float32Array;
        const reformedProbs = (await probsT.data()) as Float32Array;
        const reformedLabels = Int32Array.from((await labelsT.data()) as Int32Array);
        return {
          n: x.shape[0], scores, flagged: Array.from(scores, (s) => s > threshold), reformedLabels, reformedProbs,
          classes: probsT.shape[1],
        };
      } finally {
        tf.dispose([scoresT, probsT, labelsT]);
      }
    },
  };
}
