import * as tf from '@tensorflow/tfjs';
import { ProbeError } from '../errors';
import { signStep } from '../kernels/fused';
import { deviceScalar } from '../tensors';
import type { Classifier } from '../models/types';
import { crossEntropyGradient } from './gradients';
import { stepper, type Norm, type StepControl } from './types';

export interface BimOptions {
  /** Radius of the allowed perturbation in `norm` around x (input units). */
  readonly eps: number;
  /** Size of each step in `norm` (default eps/10 for L∞, eps/4 for L2). */
  readonly stepSize?: number;
  /** Number of steps (default 10). */
  readonly steps?: number;
  readonly norm?: Norm;
  /** Start from a uniformly random point of the ε-ball (PGD, Madry et al.) instead of x (BIM). */
  readonly randomStart?: boolean;
  /** Seed of the random start. */
  readonly seed?: number;
  /** Labels to move away from (untargeted; default: the model's predictions) or targets (targeted, required). */
  readonly y?: tf.Tensor1D;
  readonly targeted?: boolean;
}

function projectL2(delta: tf.Tensor, eps: number): tf.Tensor {
  const n = delta.shape[0] ?? 1;
  const flat = delta.reshape([n, -1]);
  const norm = tf.sqrt(tf.sum(tf.square(flat), 1, true));
  const factor = tf.minimum(1, tf.div(eps, tf.maximum(norm, 1e-12)));
  return tf.mul(flat, factor).reshape(delta.shape);
}

/** The L2-normalised gradient (the L∞ step is signStep's). */
function normalizedStep(grad: tf.Tensor): tf.Tensor {
  const n = grad.shape[0] ?? 1;
  const flat = grad.reshape([n, -1]);
  const l2 = tf.maximum(tf.sqrt(tf.sum(tf.square(flat), 1, true)), 1e-12);
  return tf.div(flat, l2).reshape(grad.shape);
}

/**
 * Basic Iterative Method (Kurakin, Goodfellow & Bengio 2017: FGSM of Goodfellow et al. 2015 applied
 * `steps` times with step `stepSize`, clipped to the ε-ball and the input box after every step);
 * with `randomStart` it is PGD (Madry et al. 2018). Batched; cancellable within one step.
 */
export async function bim(model: Classifier, x: tf.Tensor4D, opts: BimOptions, ctl?: StepControl): Promise<tf.Tensor4D> {
  const { eps, norm = 'inf', targeted = false, randomStart = false } = opts;
  const steps = opts.steps ?? 10;
  const stepSize = opts.stepSize ?? (norm === 'inf' ? eps / 10 : eps / 4);
  if (!Number.isFinite(eps) || eps < 0) throw new ProbeError('BAD_INPUT', `eps must be a finite number ≥ 0, got ${eps}`);
  if (!Number.isInteger(steps) || steps < 0 || steps > 100000) throw new ProbeError('BAD_INPUT', `steps must be an integer in [0, 100000], got ${steps}`);
  if (!Number.isFinite(stepSize) || stepSize < 0) throw new ProbeError('BAD_INPUT', `stepSize must be a finite number ≥ 0, got ${stepSize}`);
  if (targeted && !opts.y) throw new ProbeError('BAD_INPUT', 'a targeted attack needs target labels');
  if (opts.y && opts.y.shape[0] !== x.shape[0]) throw new ProbeError('BAD_INPUT', `expected ${x.shape[0]} labels, got ${opts.y.shape[0]}`);
  const { min, max } = model.inputRange;
  const labels = opts.y ? tf.clone(opts.y) : tf.tidy(() => tf.argMax(model.logits(x), 1) as tf.Tensor1D);
  const step = stepper(ctl);
  // Made once: a JS number in an op is an upload per call on WebGPU.
  const signedStep = deviceScalar(targeted ? -stepSize : stepSize);
  let adv: tf.Tensor4D = tf.tidy(() => {
    if (!randomStart || eps === 0) return tf.clone(x);
    let noise: tf.Tensor;
    if (norm === 'inf') {
      noise = tf.randomUniform(x.shape, -eps, eps, 'float32', opts.seed ?? 0);
    } else {
      // Uniform in the L2 ball: a random direction scaled by eps·u^(1/d).
      const n = x.shape[0];
      const d = x.size / n;
      const g = tf.randomNormal([n, d], 0, 1, 'float32', opts.seed ?? 0);
      const dir = tf.div(g, tf.maximum(tf.norm(g, 2, 1, true), 1e-12));
      const r = tf.mul(eps, tf.pow(tf.randomUniform([n, 1], 0, 1, 'float32', (opts.seed ?? 0) + 1), 1 / d));
      noise = tf.mul(dir, r).reshape(x.shape);
    }
    return tf.clipByValue(tf.add(x, noise), min, max) as tf.Tensor4D;
  });
  try {
    for (let i = 0; i < steps && eps > 0; i++) {
      await step({ done: i, total: steps, phase: `step ${i + 1}/${steps}` });
      const next = tf.tidy(() => {
        const grad = crossEntropyGradient(model, adv, labels);
        // The L∞ step and projections: one fused kernel on WebGPU and WebGL (kernels/fused.ts), the ops below elsewhere.
        if (norm === 'inf') return signStep(adv, grad, targeted ? -stepSize : stepSize, min, max, { x0: x, radius: eps }, signedStep);
        const moved = tf.add(adv, tf.mul(normalizedStep(grad), signedStep));
        return tf.clipByValue(tf.add(x, projectL2(tf.sub(moved, x), eps)), min, max) as tf.Tensor4D;
      });
      adv.dispose();
      adv = next;
    }
    ctl?.onProgress?.({ done: steps, total: steps });
    return adv;
  } catch (e) {
    adv.dispose();
    throw e;
  } finally {
    tf.dispose([labels, signedStep]);
  }
}
