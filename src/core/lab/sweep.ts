/**
 * Goodfellow et al. 2015, fig. 4: the logits (softmax arguments) of a classifier along the FGSM
 * direction sign(∇ₓJ(x, y)) for ε from −max to +max, all points in one batched forward pass. As in
 * the paper the points are not clipped to the pixel range (large |ε| leaves it: "rubbish" inputs).
 * Pure tfjs: runs in Node and in the extension.
 */
import * as tf from '@tensorflow/tfjs';
import { crossEntropyGradient } from '../attacks/gradients';
import { ProbeError } from '../errors';
import type { Classifier } from '../models/types';

import { correctRuns, stripIndices, sweepEpsilons, SWEEP_LIMITS } from './sweep-common';

export { correctRuns, stripIndices, sweepEpsilons, SWEEP_LIMITS };

export interface SweepOptions {
  /** ε runs from −maxEps to +maxEps. */
  readonly maxEps: number;
  /** Number of ε values (odd, so that ε = 0 is one of them). */
  readonly points: number;
  /** How many images along the sweep to return (evenly spaced, first and last included). */
  readonly strip: number;
}

/** The sweep as plain arrays (ready for JSON and the chart). */
export interface SweepData {
  /** The class J is taken for (the original prediction): the "correct" class of the chart. */
  readonly label: number;
  readonly eps: number[];
  /** logits[i][c]: logit of class c at eps[i]. */
  readonly logits: number[][];
  /** arg-max class at each ε. */
  readonly predicted: number[];
  /** Indices into eps of the strip images, and the images (h·w·c values each). */
  readonly stripIndex: number[];
  readonly strip: Float32Array[];
}

/** Throws BAD_INPUT with a reason when the options are out of range. */
export function checkSweepOptions(o: SweepOptions): void {
  const { minPoints, maxPoints, maxEps, maxStrip } = SWEEP_LIMITS;
  if (typeof o.maxEps !== 'number' || !Number.isFinite(o.maxEps) || o.maxEps <= 0 || o.maxEps > maxEps) {
    throw new ProbeError('BAD_INPUT', `the sweep's largest ε must be a number in (0, ${maxEps}], got ${String(o.maxEps)}`);
  }
  if (!Number.isInteger(o.points) || o.points < minPoints || o.points > maxPoints || o.points % 2 === 0) {
    throw new ProbeError('BAD_INPUT', `the sweep needs an odd number of points in [${minPoints}, ${maxPoints}], got ${String(o.points)}`);
  }
  if (!Number.isInteger(o.strip) || o.strip < 0 || o.strip > maxStrip) {
    throw new ProbeError('BAD_INPUT', `the sweep's image strip must have 0 to ${maxStrip} images, got ${String(o.strip)}`);
  }
}

/**
 * The logits of `model` at x + ε·sign(∇ₓJ(x, label)) for every ε of the sweep (one batched forward
 * pass). `pixels` is one image (h·w·c values). Frees every tensor it makes.
 */
export async function logitSweep(model: Classifier, pixels: Float32Array, label: number, opts: SweepOptions): Promise<SweepData> {
  checkSweepOptions(opts);
  const [h, w, c] = model.inputShape;
  const size = h * w * c;
  if (pixels.length !== size) throw new ProbeError('BAD_INPUT', `expected ${size} values, got ${pixels.length}`);
  const classes = model.classNames.length;
  if (!Number.isInteger(label) || label < 0 || label >= classes) throw new ProbeError('BAD_INPUT', `label must be a class index below ${classes}`);
  const eps = sweepEpsilons(opts.maxEps, opts.points);
  const stripIndex = stripIndices(eps.length, opts.strip);
  const [logitsT, batchT] = tf.tidy(() => {
    const x = tf.tensor4d(pixels, [1, h, w, c]);
    const dir = tf.sign(crossEntropyGradient(model, x, tf.tensor1d([label], 'int32')));
    const e = tf.tensor(eps, [eps.length, 1, 1, 1]);
    const batch = tf.add(x, tf.mul(e, dir)) as tf.Tensor4D;
    const picked = stripIndex.length > 0 ? tf.gather(batch, tf.tensor1d(stripIndex, 'int32')) : tf.zeros([0, h, w, c]);
    return [model.logits(batch), picked] as const;
  });
  try {
    const flat = (await logitsT.data()) as Float32Array;
    const imgs = (await batchT.data()) as Float32Array;
    const logits: number[][] = [];
    const predicted: number[] = [];
    for (let i = 0; i < eps.length; i++) {
      const row = Array.from(flat.subarray(i * classes, (i + 1) * classes));
      let best = 0;
      for (let k = 1; k < classes; k++) if (row[k] > row[best]) best = k;
      logits.push(row);
      predicted.push(best);
    }
    const strip = stripIndex.map((_, j) => imgs.slice(j * size, (j + 1) * size));
    return { label, eps, logits, predicted, stripIndex, strip };
  } finally {
    tf.dispose([logitsT, batchT]);
  }
}

