import * as tf from '@tensorflow/tfjs';
import { ProbeError } from '../errors';
import { signStep } from '../kernels/fused';
import { deviceScalar } from '../tensors';
import type { Classifier } from '../models/types';
import { crossEntropyGradient } from './gradients';
import type { Norm } from './types';

export interface FgsmOptions {
  /** Size of the step in the chosen norm (pixel units of the model's input range). */
  readonly eps: number;
  /** 'inf' (default): the sign of the gradient, as in the paper; 2: the L2-normalised gradient. */
  readonly norm?: Norm;
  /**
   * Labels [n] (int). Untargeted: the true labels to move away from (default: the model's own
   * predictions, which avoids label leaking). Targeted: the target classes (required).
   */
  readonly y?: tf.Tensor1D;
  readonly targeted?: boolean;
}

/**
 * Fast Gradient Sign Method, Goodfellow, Shlens & Szegedy, "Explaining and Harnessing
 * Adversarial Examples" (ICLR 2015): x' = clip(x + ε·sign(∇ₓJ(θ, x, y))), or
 * x' = clip(x − ε·sign(∇ₓJ(θ, x, t))) towards a target t. Batched; returns a new tensor.
 */
export function fgsm(model: Classifier, x: tf.Tensor4D, opts: FgsmOptions): tf.Tensor4D {
  const { eps, norm = 'inf', targeted = false } = opts;
  if (!Number.isFinite(eps) || eps < 0) throw new ProbeError('BAD_INPUT', `eps must be a finite number ≥ 0, got ${eps}`);
  if (targeted && !opts.y) throw new ProbeError('BAD_INPUT', 'a targeted attack needs target labels');
  const { min, max } = model.inputRange;
  return tf.tidy(() => {
    const grad = crossEntropyGradient(model, x, opts.y);
    const signedEps = targeted ? -eps : eps;
    // clip(x + ε·sign(g)): one fused kernel on WebGPU and WebGL (kernels/fused.ts).
    if (norm === 'inf') return signStep(x, grad, signedEps, min, max);
    const n = x.shape[0];
    const flat = grad.reshape([n, -1]);
    const l2 = tf.maximum(tf.sqrt(tf.sum(tf.square(flat), 1, true)), deviceScalar(1e-12));
    const step = tf.div(flat, l2).reshape(x.shape);
    return tf.clipByValue(tf.add(x, tf.mul(step, deviceScalar(signedEps))), min, max) as tf.Tensor4D;
  });
}
