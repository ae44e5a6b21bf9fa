import * as tf from '@tensorflow/tfjs';
import type { FgsmOutcome, FgsmParams, GrayImage, Prediction } from '../protocol/types';
import { distancesOf } from './attacks/distances';
import { fgsm } from './attacks/fgsm';
import { ProbeError } from './errors';
import type { Classifier } from './models/types';

function toGray(pixels: ArrayLike<number>, width: number, height: number): GrayImage {
  return { width, height, pixels: Array.from(pixels, (v) => Math.round(v * 1e5) / 1e5) };
}

function predictionOf(model: Classifier, probs: Float32Array | number[]): Prediction {
  let label = 0;
  for (let i = 1; i < probs.length; i++) if (probs[i] > probs[label]) label = i;
  return { label, className: model.classNames[label] ?? String(label), probs: Array.from(probs) };
}

/** Classify one preprocessed image (h*w*c values in the model's input range). */
export async function classifyOne(model: Classifier, pixels: Float32Array): Promise<Prediction> {
  const [h, w, c] = model.inputShape;
  if (pixels.length !== h * w * c) throw new ProbeError('BAD_INPUT', `expected ${h * w * c} values, got ${pixels.length}`);
  const probsT = tf.tidy(() => tf.softmax(model.logits(tf.tensor4d(pixels, [1, h, w, c]))));
  const probs = (await probsT.data()) as Float32Array;
  probsT.dispose();
  return predictionOf(model, probs);
}

/**
 * Run FGSM on one preprocessed image and describe the outcome as the popup shows it.
 * Untargeted attacks move away from the model's own prediction `clean.label`.
 */
export async function fgsmOne(model: Classifier, pixels: Float32Array, clean: Prediction, params: FgsmParams): Promise<FgsmOutcome> {
  const [h, w, c] = model.inputShape;
  const t0 = performance.now();
  const targeted = params.target !== null;
  if (targeted && (params.target! < 0 || params.target! >= model.classNames.length)) {
    throw new ProbeError('BAD_INPUT', `target must be a class index below ${model.classNames.length}`);
  }
  const { advT, probsT } = tf.tidy(() => {
    const x = tf.tensor4d(pixels, [1, h, w, c]);
    const y = tf.tensor1d([targeted ? params.target! : clean.label], 'int32');
    const adv = fgsm(model, x, { eps: params.eps, targeted, y });
    return { advT: adv, probsT: tf.softmax(model.logits(adv)) };
  });
  const [adv, probs] = await Promise.all([advT.data() as Promise<Float32Array>, probsT.data() as Promise<Float32Array>]);
  advT.dispose();
  probsT.dispose();
  const ms = performance.now() - t0;
  const prediction = predictionOf(model, probs);
  const delta = new Float32Array(adv.length);
  for (let i = 0; i < adv.length; i++) delta[i] = adv[i] - pixels[i];
  const success = targeted ? prediction.label === params.target : prediction.label !== clean.label;
  return {
    params,
    perturbation: toGray(delta, w, h),
    adversarial: toGray(adv, w, h),
    prediction,
    success,
    distances: distancesOf(adv, pixels),
    ms,
  };
}

export { toGray as grayImage };
