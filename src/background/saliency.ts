/**
 * The lab's "JSMA saliency map for this image": Papernot et al.'s adversarial saliency map S(X, t) of the
 * current clean image toward one target (θ = +1, the logits' map, single features) and the adversarial
 * distance A(X, t) toward every other class, both from one logit Jacobian of X. A(X, t) comes from
 * src/core/metrics/adversarial-distance.ts (adversarialDistanceFromJacobian, the code path of
 * `probe reproduce`); the map is the per-feature value whose sign that function counts.
 */
import * as tf from '@tensorflow/tfjs';
import { adversarialDistanceFromJacobian } from '../core/metrics/adversarial-distance';
import { ProbeError } from '../core/errors';
import { tapeFreeVjp } from '../core/models/chain';
import type { Classifier } from '../core/models/types';
import type { ProbeResult, SaliencyView } from '../protocol/types';
import { saliencyMapFromJacobian } from './saliency-map';

export { saliencyMapFromJacobian } from './saliency-map';

/** Steps the lab progress reports for a saliency request. */
export const SALIENCY_STEPS = 2;

/**
 * The logit Jacobian of one image, [C·N] flat (row c = ∂Z_c/∂X): one backward pass over the image tiled C
 * times with the cotangents e_c (as adversarialDistances does for a batch). No tensor is kept.
 */
export async function logitJacobian(model: Classifier, input: Float32Array): Promise<Float32Array> {
  const [h, w, c] = model.inputShape;
  const N = h * w * c;
  if (input.length !== N) throw new ProbeError('BAD_INPUT', `model ${model.id} takes ${h}×${w}×${c} inputs, got ${input.length} values`);
  const C = model.classNames.length;
  const cot = new Float32Array(C * C);
  for (let k = 0; k < C; k++) cot[k * C + k] = 1;
  const grad = tf.tidy(() => {
    const tiled = tf.tile(tf.tensor4d(input, [1, h, w, c]), [C, 1, 1, 1]) as tf.Tensor4D;
    const dz = tf.tensor2d(cot, [C, C]);
    const vjp = tapeFreeVjp(model);
    if (vjp) {
      const f = vjp(tiled, () => dz);
      return f.grad;
    }
    return tf.engine().gradients(() => model.logits(tiled), [tiled], dz).grads[0];
  });
  try {
    return Float32Array.from(await grad.data());
  } finally {
    grad.dispose();
  }
}

/** The saliency view of `result`'s clean image (`input`) on `model` toward `target`. */
export async function buildSaliencyView(
  model: Classifier,
  result: ProbeResult,
  input: Float32Array,
  target: number,
  backend: string,
  signal: AbortSignal,
  report: (done: number, phase: string) => void,
): Promise<SaliencyView> {
  const C = model.classNames.length;
  const label = result.prediction.label;
  if (!Number.isInteger(target) || target < 0 || target >= C) throw new ProbeError('BAD_INPUT', `The target must be one of the model's ${C} classes (0–${C - 1}).`);
  if (target === label) throw new ProbeError('BAD_INPUT', `The image is already classified as ${model.classNames[label] ?? label}: pick another target class.`);
  const t0 = performance.now();
  report(1, `the logit Jacobian (${C} backward rows)`);
  const jac = await logitJacobian(model, input);
  if (signal.aborted) throw new ProbeError('CANCELLED', 'The saliency map was cancelled.');
  const map = saliencyMapFromJacobian(jac, C, target);
  const A = adversarialDistanceFromJacobian(jac, C, 'logits');
  let positive = 0;
  for (const v of map) if (v > 0) positive++;
  const [h, w] = model.inputShape;
  report(2, 'done');
  return {
    resultId: result.id,
    modelId: result.modelId,
    classNames: [...model.classNames],
    label,
    target,
    width: w,
    height: h,
    map: Array.from(map),
    positive,
    distances: Array.from(A, (distance, t) => ({ target: t, distance })).filter((d) => d.target !== label),
    backend,
    ms: performance.now() - t0,
  };
}
