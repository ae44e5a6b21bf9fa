import type * as tf from '@tensorflow/tfjs';

/** Value range of a model's input pixels. */
export interface InputRange {
  readonly min: number;
  readonly max: number;
}

/** How a page image is turned into a model input (see src/core/image/preprocess.ts). */
export type PreprocessMode = 'mnist' | 'resize';

/**
 * A differentiable image classifier. Attacks are functions of a Classifier
 * (CleverHans v4 style: `attack(model, x, params)`), never of a concrete model class.
 */
export interface Classifier {
  readonly id: string;
  /** [height, width, channels] of one input image. */
  readonly inputShape: readonly [number, number, number];
  readonly inputRange: InputRange;
  readonly classNames: readonly string[];
  /** Unnormalised scores, [batch, classes], for a batch [batch, h, w, c] in inputRange. */
  logits(x: tf.Tensor4D): tf.Tensor2D;
  /**
   * Optional fast path (src/core/models/chain.ts): the logits Z(x) and the vector–Jacobian product
   * ∇ₓ Σ seed(Z) ⊙ Z, seed(Z) taken as a constant, without tf's gradient tape. Same values as
   * tf.grad through `logits`; attacks use it through `tapeFreeVjp` (chain.ts), which ignores it when
   * `logits` was replaced by a wrapper. Caller owns both results.
   */
  logitsAndVjp?(x: tf.Tensor4D, seed: (z: tf.Tensor2D) => tf.Tensor2D): { logits: tf.Tensor2D; grad: tf.Tensor4D };
  dispose(): void;
}

/** A variational autoencoder (Kos et al.): encoder to a diagonal Gaussian q(z|x), decoder to pixel means. */
export interface Vae {
  readonly id: string;
  readonly inputShape: readonly [number, number, number];
  readonly inputRange: InputRange;
  readonly latentDim: number;
  /** Mean and log-variance of q(z|x), each [batch, latentDim]. */
  encode(x: tf.Tensor4D): { mean: tf.Tensor2D; logVar: tf.Tensor2D };
  /** Bernoulli means of p(x|z), [batch, h, w, c], in inputRange. */
  decode(z: tf.Tensor2D): tf.Tensor4D;
  dispose(): void;
}

/** A classifier that also reports predictive uncertainty (GPDNN of Bradshaw et al.). */
export interface Uncertain extends Classifier {
  /** Predictive class probabilities and the variance of each latent function value, [batch, classes] each. */
  predictive(x: tf.Tensor4D): { probs: tf.Tensor2D; variance: tf.Tensor2D };
}
